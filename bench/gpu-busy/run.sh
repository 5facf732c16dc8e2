#!/usr/bin/env bash
# GPU-busy fraction of a sweep of ~0.7 s torch items, a process per item
# against warm workers. Needs an NVIDIA GPU, torch and nvidia-smi; run from
# the repository root after `npm ci`:   bash bench/gpu-busy/run.sh
# It samples nvidia-smi's utilization every 100 ms while each sweep runs and
# prints the mean, and the sweep's wall time. (CI has no GPU: not run there.)
set -euo pipefail
cd "$(dirname "$0")"
for mode in process worker; do
  rm -rf ".spotjob/gpu-busy-$mode"
  samples="$(mktemp)"
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 >"$samples" &
  sampler=$!
  start=$(date +%s.%N)
  node ../../dist/spotjob.cjs run "$mode.yaml" >/dev/null 2>&1
  end=$(date +%s.%N)
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
  awk -v mode="$mode" -v wall="$(echo "$end - $start" | bc)" \
    '{ s += $1; n++ } END { printf "%s mode: GPU busy %.0f%% (mean of %d samples at 100 ms), sweep wall %.1f s\n", mode, s / n, n, wall }' "$samples"
done
