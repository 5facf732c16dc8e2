"""GPU-busy fraction of a sweep of ~0.7 s torch items: a process per item,
warm workers, and (the ceiling) the same items back to back in one plain loop.

Needs an NVIDIA GPU, torch and nvidia-ml-py; run from the repository root
after `npm ci`:   python3 bench/gpu-busy/run.py
CI has no GPU, so CI does not run it.

Figures per mode:
- busy (wall): NVML's utilization (share of time a kernel was running), sampled
  every 50 ms from the moment `spotjob run` starts until it exits, start-up
  (Node, Python, `import torch`, CUDA) included;
- busy (items): the same samples between the first item's start and the last
  item's end, i.e. in the steady state;
- gap between items: from one item's end to the next one's start, measured in
  the program: the GPU idles this long between items (median and max).
"""
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import pynvml

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = os.environ.get("NODE", "node")
CLI = os.path.join(HERE, "..", "..", "dist", "spotjob.cjs")
LOOP_ITEMS = 100


class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        pynvml.nvmlInit()
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        self.samples = []
        self.running = True

    def run(self):
        while self.running:
            util = pynvml.nvmlDeviceGetUtilizationRates(self.handle).gpu
            self.samples.append((time.time(), util))
            time.sleep(0.05)

    def mean(self, start, end):
        inside = [u for t, u in self.samples if start <= t <= end]
        return statistics.fmean(inside) if inside else float("nan"), len(inside)


def run_mode(mode, sampler):
    log = tempfile.NamedTemporaryFile(prefix=f"gpu-busy-{mode}-", suffix=".log", delete=False).name
    env = {**os.environ, "BENCH_ITEM_LOG": log}
    if mode == "loop":
        command = [sys.executable, "item.py", "loop", str(LOOP_ITEMS)]
    else:
        subprocess.run(["rm", "-rf", f".spotjob/gpu-busy-{mode}"], cwd=HERE, check=True)
        command = [NODE, CLI, "run", f"{mode}.yaml"]
    start = time.time()
    done = subprocess.run(command, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    end = time.time()
    if done.returncode != 0:
        sys.exit(f"{mode} mode failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    lines = [line.split() for line in open(log)]
    items = sorted((float(start), float(end)) for start, end, _ in lines)
    devices = sorted({devices for _, _, devices in lines})
    gaps = [b[0] - a[1] for a, b in zip(items, items[1:])]
    wall_busy, n = sampler.mean(start, end)
    items_busy, _ = sampler.mean(items[0][0], items[-1][1])
    in_items = sum(e - s for s, e in items)
    print(
        f"{mode:>7} mode: {len(items)} items on CUDA_VISIBLE_DEVICES {','.join(devices)}, wall {end - start:6.1f} s, "
        f"GPU busy {wall_busy:3.0f}% of the wall ({n} samples), {items_busy:3.0f}% from first item to last; "
        f"time inside items {100 * in_items / (end - start):3.0f}% of the wall; "
        f"gap between items median {1000 * statistics.median(gaps):.1f} ms, max {1000 * max(gaps):.1f} ms",
        flush=True,
    )


def main():
    sampler = Sampler()
    sampler.start()
    print(f"GPU: {pynvml.nvmlDeviceGetName(sampler.handle)}; item: ~{os.environ.get('ITEM_SECONDS', '0.7')} s of 8192² matmuls", flush=True)
    for mode in sys.argv[1:] or ["process", "worker", "loop"]:
        time.sleep(1)  # let the utilization counter settle between modes
        run_mode(mode, sampler)
    sampler.running = False


if __name__ == "__main__":
    main()
