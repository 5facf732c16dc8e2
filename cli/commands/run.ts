/**
 * `spotjob run <spec> [--store URL]`: runs a job on this machine with the
 * same runtime the cloud instances use. Run it again after Ctrl-C or kill -9
 * and it resumes.
 */
import { missingWorkdir } from "../../core/jobspec/load";
import { provider } from "../../core/providers/registry";
import { launch } from "../../runtime/launch";
import { printDiagnostics } from "../render/diagnostics";
import { EXIT } from "../exit-codes";
import { jobHome } from "./job-home";
import { loadOrReport } from "./load";

export async function runCommand(specFile: string, options: { store?: string; exitIfBusy?: boolean; rerun?: boolean; fresh?: boolean }): Promise<number> {
  const loaded = loadOrReport(specFile);
  if (typeof loaded === "number") return loaded;
  const { spec } = loaded;
  const workdir = missingWorkdir(loaded);
  if (workdir) {
    printDiagnostics([workdir], loaded.source.text);
    return EXIT.invalidSpec;
  }
  const target = provider(spec.provider);
  if (target.launch !== "this-machine") {
    // Only point at `pulumi up` where it can launch the job.
    const elsewhere = target.launch === "stack" ? `use \`pulumi up\` to launch it on ${spec.provider}` : `spotjob cannot launch on ${spec.provider} in this release`;
    process.stderr.write(`spotjob: note: ${specFile} says provider: ${spec.provider}; \`spotjob run\` runs it here, on this machine (${elsewhere})\n`);
  }
  const home = jobHome(spec, options.store);
  const result = await launch({ spec, specFile, storeUrl: home.store, stateDir: home.state, onBusy: options.exitIfBusy ? "exit" : "wait", rerun: options.rerun, fresh: options.fresh });
  return result.exitCode === 0 ? EXIT.ok : result.exitCode;
}
