"""A toy training run for the local demo: gradient descent on a noisy
quadratic, a few seconds long. Writes its result where spotjob asks
($SWEEP_RESULT) and prints progress like a real trainer."""
import argparse
import json
import os
import random
import time

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--steps", type=int, default=300)
args = parser.parse_args()

rng = random.Random(args.seed)
w = rng.uniform(-5, 5)
for step in range(1, args.steps + 1):
    grad = 2 * (w - 3.0) + rng.gauss(0, 0.5)
    w -= args.lr * grad
    time.sleep(0.01)
    if step % 100 == 0:
        print(f"lr={args.lr} seed={args.seed} step={step} w={w:.4f}", flush=True)

loss = (w - 3.0) ** 2
result = {"lr": args.lr, "seed": args.seed, "w": w, "loss": loss}
if os.environ.get("SWEEP_RESULT"):
    with open(os.environ["SWEEP_RESULT"], "w") as f:
        json.dump(result, f)
print(json.dumps(result))
