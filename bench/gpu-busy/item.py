"""One sweep item of ~0.7 s of GPU work, as a process per item (`command`) or in a warm worker (`worker`)."""
import os
import sys
import time

import torch  # start-up cost paid per process: this is what warm workers save

SECONDS = float(os.environ.get("ITEM_SECONDS", "0.7"))


def work(item):
    torch.manual_seed(int(item["i"]))
    a = torch.randn(8192, 8192, device="cuda")
    torch.cuda.synchronize()
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < SECONDS:
        a = torch.tanh(a @ a * 1e-4)
        n += 1
        if n % 4 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    return {"matmuls": n}


if __name__ == "__main__":
    if sys.argv[1:] == ["worker"]:
        from spotjob_worker import serve

        torch.zeros(1, device="cuda")  # CUDA initialised once per worker
        serve(work)
    else:
        import json

        result = work(json.loads(os.environ["SWEEP_ITEM"]))
        with open(os.environ["SWEEP_RESULT"], "w") as f:
            json.dump(result, f)
