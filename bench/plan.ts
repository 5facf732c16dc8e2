/**
 * `spotjob plan` speed: median wall time of the whole command, Node start-up
 * included (target < 1 s), and of parse + validate alone (target < 20 ms).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseSpec } from "../core/jobspec/load";
import { planSpec } from "../core/plan/plan";

const root = process.cwd();
const spec = join(root, "jobs/confinement_h100_aws.yaml");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

execFileSync(process.execPath, [join(root, "scripts/build.mjs")]);
const cli = join(root, "dist/spotjob.cjs");
const wall: number[] = [];
for (let i = 0; i < 21; i++) {
  const t = performance.now();
  const run = spawnSync(process.execPath, [cli, "plan", spec], { encoding: "utf8" });
  wall.push(performance.now() - t);
  if (run.status !== 0) throw new Error(run.stderr);
}
console.log(`spotjob plan ${spec.slice(root.length + 1)}: median ${median(wall).toFixed(0)} ms wall, Node start-up included (21 runs; target < 1000 ms)`);

const text = readFileSync(spec, "utf8");
// The first call is what one CLI invocation pays: the JIT is cold.
const c0 = performance.now();
parseSpec(text, spec);
const cold = performance.now() - c0;
for (let i = 0; i < 50; i++) parseSpec(text, spec);
const parse: number[] = [];
const whole: number[] = [];
for (let i = 0; i < 200; i++) {
  const t = performance.now();
  const result = parseSpec(text, spec);
  parse.push(performance.now() - t);
  if (!result.ok) throw new Error("spec did not parse");
  const t2 = performance.now();
  planSpec(result.loaded);
  whole.push(performance.now() - t2);
}
console.log(`parse + validate: first (cold) call ${cold.toFixed(2)} ms, then median ${median(parse).toFixed(2)} ms (200 runs; target < 20 ms); selection + guards: median ${median(whole).toFixed(2)} ms`);
