"""Runs after the demo sweep: reads the sweep's results and prints the best
learning rate. spotjob exposes the results as JSON lines in $SWEEP_RESULTS."""
import json
import os
import statistics
from collections import defaultdict

path = os.environ.get("SWEEP_RESULTS")
if not path or not os.path.exists(path):
    print("no sweep results found")
    raise SystemExit(0)

losses = defaultdict(list)
with open(path) as f:
    for line in f:
        record = json.loads(line)
        result = record.get("result") or {}
        if "loss" in result:
            losses[result["lr"]].append(result["loss"])

for lr, values in sorted(losses.items()):
    print(f"lr={lr:<5} mean loss={statistics.mean(values):.5f} over {len(values)} seeds")
best = min(losses, key=lambda lr: statistics.mean(losses[lr]))
print(f"best learning rate: {best}")
