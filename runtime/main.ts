/**
 * The on-instance runtime, bundled to one file (dist/runtime.cjs):
 *   node runtime.cjs run --spec job.json --store s3://bucket/prefix [--state DIR]
 *   node runtime.cjs supervise      (the supervisor's Cloud Run job on GCP)
 */
// First, before the rest loads: a signal from now on ends `run` cleanly (exit 75), not with 143.
import "./hold-signals";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatDiagnostic } from "../core/jobspec/diagnostics";
import { loadSpecFile, type ResolvedSpec } from "../core/jobspec/load";
import { RUNTIME_EXIT } from "./job";
import { launch } from "./launch";
import { StoreUnavailable } from "./store/store";

/** The store could not be used: the message says why and what to do (a store that was unreachable may work when run again). */
const STORE_EXIT = 5;

/**
 * The supervisor's Lambda entry point: the bundle is deployed as its code
 * (handler `runtime.handler`). Loaded when called, so that `run` does not load
 * the AWS SDK clients the supervisor needs.
 */
export async function handler(): ReturnType<typeof import("./supervisor/lambda.js").handler> {
  return (await import("./supervisor/lambda.js")).handler();
}

const USAGE = `spotjob runtime: runs one job on this machine, resumably.

Usage:
  runtime.cjs run --spec FILE --store URL [--state DIR] [--exit-if-busy]
      FILE: the job spec (YAML, or the resolved spec as JSON).
      URL: a directory, s3://bucket/prefix or gs://bucket/prefix.
      DIR: machine-local state (default /var/lib/spotjob/<job>).

  runtime.cjs supervise
      One run of the job's supervisor (a Cloud Run job runs it every minute),
      configured by SPOTJOB_SUPERVISOR; prints what it did as one JSON line.

Exit status: 0 succeeded, 1 failed, 2 (supervise) SPOTJOB_SUPERVISOR is
missing or invalid, 4 another instance holds the job, 5 the store could not
be used (no bucket, region or credentials, access denied, unreachable, an
unwritable directory: the message says what to do), 70 the runtime crashed
(run again), 75 interrupted (run again to resume).
`;

/** SPOTJOB_SUPERVISOR is missing or invalid: running again cannot help. */
const SUPERVISOR_CONFIG_EXIT = 2;

/**
 * One supervisor run (GCP's Cloud Run job; AWS runs the same through `handler`). Its one JSON line is the job's log
 * entry; a failure says what failed and how to fix it, and exits non-zero so the execution shows as failed.
 */
async function supervise(): Promise<number> {
  const { superviseFromEnv, SupervisorConfigError } = await import("./supervisor/run.js");
  // A cloud API's refusal (GCP's Compute API: quota, permission) is the job's failure, said plainly; AWS's SDK errors keep their own handling.
  const { CloudApiError } = await import("./cloud/api-error.js");
  try {
    const summary = await superviseFromEnv();
    process.stdout.write(`${JSON.stringify({ spotjob: "supervisor", ...summary })}\n`);
    return 0;
  } catch (e) {
    if (e instanceof SupervisorConfigError) {
      process.stderr.write(`spotjob supervisor: error: ${e.message}\n`);
      return SUPERVISOR_CONFIG_EXIT;
    }
    if (e instanceof CloudApiError) {
      process.stderr.write(`spotjob supervisor: error: ${e.message}\n`);
      return RUNTIME_EXIT.failed;
    }
    throw e;
  }
}

function loadSpec(file: string): ResolvedSpec {
  if (file.endsWith(".json")) return JSON.parse(readFileSync(file, "utf8")) as ResolvedSpec;
  const result = loadSpecFile(file);
  if (!result.ok) {
    for (const d of result.errors) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.exit(RUNTIME_EXIT.failed);
  }
  return result.loaded.spec;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "supervise" && rest.length === 0) return supervise();
  if (command !== "run") {
    process.stdout.write(USAGE);
    return command === "--help" || command === "-h" ? 0 : RUNTIME_EXIT.failed;
  }
  const { values } = parseArgs({ args: rest, options: { spec: { type: "string" }, store: { type: "string" }, state: { type: "string" }, "exit-if-busy": { type: "boolean" }, rerun: { type: "boolean" } }, strict: true });
  if (!values.spec || !values.store) {
    process.stderr.write(USAGE);
    return RUNTIME_EXIT.failed;
  }
  const spec = loadSpec(values.spec);
  const result = await launch({ spec, specFile: values.spec, storeUrl: values.store, stateDir: values.state ?? `/var/lib/spotjob/${spec.name}`, onBusy: values["exit-if-busy"] ? "exit" : "wait", rerun: Boolean(values.rerun) });
  return result.exitCode;
}

// The same bundle is the supervisor's Lambda code, where it is required, not run.
if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      // A store that cannot be used is said as such, without a stack: it is not the runtime's bug.
      if (e instanceof StoreUnavailable) {
        process.stderr.write(`spotjob runtime: error: ${e.message}\n`);
        process.exit(STORE_EXIT);
      }
      process.stderr.write(`spotjob runtime: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(RUNTIME_EXIT.crashed);
    },
  );
}
