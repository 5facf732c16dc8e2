"""One sweep item of ~0.7 s of GPU work, as a process per item (`command`), in a
warm worker (`worker`), or all items back to back in one plain loop (`loop`, the
ceiling a worker can reach).

Each item appends "start end devices" (wall-clock seconds, CUDA_VISIBLE_DEVICES) to $BENCH_ITEM_LOG, so
run.sh can measure the GPU's idle time between items."""
import json
import os
import sys
import time

import torch  # start-up cost paid per process: this is what warm workers save

SECONDS = float(os.environ.get("ITEM_SECONDS", "0.7"))


def seed(item):
    return sum(int(v) * 10**k for k, v in enumerate(sorted(item.values())))


def work(item):
    start = time.time()
    torch.manual_seed(seed(item))
    a = torch.randn(8192, 8192, device="cuda")
    torch.cuda.synchronize()
    begun = time.perf_counter()
    n = 0
    while time.perf_counter() - begun < SECONDS:
        a = torch.tanh(a @ a * 1e-4)
        n += 1
        if n % 4 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    with open(os.environ["BENCH_ITEM_LOG"], "a") as log:
        log.write(f"{start:.6f} {time.time():.6f} {os.environ.get('CUDA_VISIBLE_DEVICES', '-')}\n")
    return {"matmuls": n}


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "command"
    if mode == "worker":
        from spotjob_worker import serve

        torch.zeros(1, device="cuda")  # CUDA initialised once per worker
        serve(work)
    elif mode == "loop":
        torch.zeros(1, device="cuda")
        for i in range(int(sys.argv[2])):
            work({"i": i})
    else:
        result = work(json.loads(os.environ["SWEEP_ITEM"]))
        with open(os.environ["SWEEP_RESULT"], "w") as f:
            json.dump(result, f)
