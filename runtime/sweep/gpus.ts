/** The GPUs this machine offers to `parallel: gpus`, as CUDA device ids. */
import { spawnSync } from "node:child_process";

export function visibleGpus(env: NodeJS.ProcessEnv = process.env): string[] {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) return visible.split(",").map((s) => s.trim()).filter((s) => s !== "" && s !== "-1");
  const smi = spawnSync("nvidia-smi", ["--query-gpu=index", "--format=csv,noheader"], { encoding: "utf8", timeout: 10_000 });
  if (smi.status !== 0 || !smi.stdout) return [];
  return smi.stdout.split("\n").map((s) => s.trim()).filter(Boolean);
}
