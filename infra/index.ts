/**
 * The spotjob Pulumi program: one stack is one job. This is the only place
 * config is read; everything below takes typed arguments.
 *
 *   pulumi config set spotjob:job jobs/demo_local.yaml
 *   pulumi preview   # the dry run: chosen instance, price, guards
 *   pulumi up        # launch
 *   pulumi destroy   # tear down (results are kept)
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { formatUsd } from "../core/catalog/format";
import { formatHours } from "../core/guards/cost";
import { planFile } from "../core/plan/plan";
import { formatDiagnostic } from "../core/spec/diagnostics";
import { LocalJob } from "./local/local-job";

const projectRoot = resolve(__dirname, "..");
const config = new pulumi.Config("spotjob");
const specFile = resolve(projectRoot, config.require("job"));
const catalogFile = config.get("catalog") || undefined;
const storeOverride = config.get("store") || undefined;

const plan = planFile(specFile, { catalogFile: catalogFile && resolve(projectRoot, catalogFile) });
const source = existsSync(specFile) ? readFileSync(specFile, "utf8") : undefined;
for (const w of plan.warnings) pulumi.log.warn(formatDiagnostic(w, source));
if (plan.outcome !== "ok") {
  // Fails preview before any resource is planned: a bad spec or a violated guard launches nothing.
  throw new pulumi.RunError(`spotjob: ${specFile} cannot be launched:\n${plan.errors.map((d) => formatDiagnostic(d, source)).join("\n")}`);
}

const { spec } = plan.loaded;
const selection = plan.selection;
if (!selection.local) {
  pulumi.log.info(
    `spotjob: ${spec.name} on ${selection.chosen.instanceType} (${selection.chosen.region}, ${selection.market}) at ${selection.chosen.spotEstimated && selection.market === "spot" ? "≤" : ""}${formatUsd(selection.pricePerHour)}/h` +
      (selection.fallback ? `, fallback ${selection.fallback.instanceType} on-demand at ${formatUsd(selection.fallback.onDemandPerHour)}/h` : "") +
      (plan.guards.runtimeCapMinutes !== null ? `; budget ${formatUsd(spec.cost.max_total_budget)} = ${formatHours(plan.guards.runtimeCapMinutes / 60)}` : ""),
  );
}

function launchLocal(): Record<string, pulumi.Input<unknown>> {
  const home = join(projectRoot, ".spotjob", spec.name);
  const job = new LocalJob(spec.name, {
    jobName: spec.name,
    specFile,
    specHash: createHash("sha256").update(source ?? "").digest("hex"),
    storeUrl: storeOverride ?? home,
    stateDir: join(home, "machine"),
    runtimeBundle: join(projectRoot, "dist", "runtime.cjs"),
  });
  return { store: job.storeUrl, log: job.logFile, started: job.started };
}

function notYet(provider: string): never {
  throw new pulumi.RunError(
    `spotjob: the ${provider} stack is not available in this release. \`npx spotjob plan ${config.require("job")}\` shows what it would run on and cost; ` +
      `\`npx spotjob run ${config.require("job")}\` runs it on this machine.`,
  );
}

const launched = selection.local ? launchLocal() : notYet(spec.provider);

export const job = spec.name;
export const provider = spec.provider;
export const chosen = selection.local ? "this machine" : `${selection.chosen.instanceType} (${selection.chosen.region}, ${selection.market})`;
export const pricePerHour = selection.pricePerHour;
export const runtimeCapMinutes = plan.guards.runtimeCapMinutes;
export const store = launched.store;
export const log = launched.log;
export const started = launched.started;
