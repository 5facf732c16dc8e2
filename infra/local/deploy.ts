/** The `provider: local` deployer: the runtime on this machine, started and stopped by the stack. */
import { createHash } from "node:crypto";
import { localJobHome, machineStateDir } from "../../runtime/local-home";
import { summary, type DeployContext } from "../deploy/context";
import type { JobOutputs, LocalOutputs } from "../outputs";
import { LocalJob } from "./local-job";

export function deployLocal(ctx: DeployContext): JobOutputs & LocalOutputs {
  const { spec } = ctx.plan.loaded;
  const home = localJobHome(ctx.projectRoot, spec.name);
  const storeUrl = ctx.settings.storeOverride ?? home.store;
  const job = new LocalJob(spec.name, {
    jobName: spec.name,
    specFile: ctx.specFile,
    specHash: createHash("sha256")
      .update(ctx.source ?? "")
      .digest("hex"),
    storeUrl,
    stateDir: machineStateDir(home, storeUrl),
    runtimeBundle: ctx.runtimeBundle,
  });
  return { ...summary(ctx), store: job.storeUrl, log: job.logFile, started: job.started };
}
