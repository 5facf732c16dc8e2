/**
 * The `spotjob` CLI: what Pulumi cannot do (offline plan, local run, status,
 * logs, cancel, the list of jobs). Bundled into dist/spotjob.cjs so it starts in tens of milliseconds.
 */
// First, before the rest loads: a signal from now on ends `run` cleanly (exit 75), not with 130/143.
import "../runtime/hold-signals";
import { parseArgs } from "node:util";
import { closest } from "../core/jobspec/suggest";
import { cancelCommand } from "./commands/cancel";
import { planCommand } from "./commands/plan";
import { runCommand } from "./commands/run";
import { schemaCommand } from "./commands/schema";
import { jobsCommand } from "./commands/jobs";
import { logsCommand } from "./commands/logs";
import { statusCommand } from "./commands/status";
import { CliError, EXIT, expectedFailure } from "./exit-codes";
import { style } from "./render/style";

declare const SPOTJOB_VERSION: string | undefined;
const VERSION = typeof SPOTJOB_VERSION === "string" ? SPOTJOB_VERSION : "dev";

const USAGE = `spotjob: run long GPU jobs and sweeps on spot capacity without losing work

Usage:
  spotjob plan <spec.yaml> [--json] [--catalog FILE] [--resources]
      Check a job spec and show what it will run on and cost: offline, no credentials.
      --resources also lists every resource \`pulumi up\` would create (the real program, run under mocks).
  spotjob run <spec.yaml> [--store URL] [--exit-if-busy] [--rerun] [--fresh]
      Run the job on this machine; run it again after Ctrl-C or kill -9 to resume.
      Progress is kept in .spotjob/<job>/ (or URL: a directory, s3://, gs://).
      --exit-if-busy exits (status 4) when another instance holds the job, instead of waiting for it.
      A job that succeeded with the same spec is not run again unless --rerun says so.
      --fresh starts over, keeping the store's previous history under history/<time>/.
  spotjob status <spec.yaml> [--store URL] [--json]
      Where the job stands: state (LOST when its heartbeat stopped), items, attempts, instance and market,
      time on spot/on-demand, cost so far and budget left, last error and launch failure.
  spotjob cancel <spec.yaml> [--store URL] [--no-wait] [--timeout SECONDS]
      Stop the job for good: its runtime saves progress, stops and records CANCELLED (on a cloud,
      the supervisor scales its instances to zero); waits up to --timeout (120 s) for that.
      Nothing is deleted: \`spotjob run\` resumes a cancelled job.
  spotjob logs <spec.yaml> [--store URL] [--attempt N] [-f]
      The job's output, from the store (the latest attempt unless told).
      -f (--follow) follows it, attempt after attempt, until the job stops running.
  spotjob jobs [ROOT] [--json]
      Every job in a store root (default .spotjob/; s3://bucket/jobs for AWS stacks; gs://..., a directory):
      state, progress, idle time, cost so far, where it runs.
  spotjob schema
      Print the job spec's JSON Schema (for editors; see jobs/job-spec.schema.json).
  spotjob --help | --version

Launch, preview and tear down a job with Pulumi: pulumi up / preview / destroy.

Exit status: 0 ok (run: the job succeeded), 1 other error (run: the job failed),
2 invalid spec or unsupported provider, 3 cost guard violated,
4 run: another instance holds the job (--exit-if-busy),
5 the store could not be used (no bucket, region or credentials, access denied,
  unreachable, a directory that cannot be written): the message says what to do,
6 run: the job was cancelled (spotjob cancel); run it again to resume,
75 run: interrupted (Ctrl-C, SIGTERM, a spot notice); run it again to resume.
`;

interface Command {
  summary: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>["options"];
  run(positionals: string[], values: Record<string, unknown>): number | Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  plan: {
    summary: "spotjob plan <spec.yaml> [--json] [--catalog FILE] [--resources]",
    options: { json: { type: "boolean" }, catalog: { type: "string" }, resources: { type: "boolean" } },
    run: (positionals, values) => {
      if (positionals.length !== 1) throw new CliError(`plan takes one spec file, got ${positionals.length}\nusage: ${COMMANDS.plan.summary}`);
      return planCommand(positionals[0], { json: Boolean(values.json), catalogFile: values.catalog as string | undefined, resources: Boolean(values.resources) });
    },
  },
  run: {
    summary: "spotjob run <spec.yaml> [--store URL] [--exit-if-busy] [--rerun] [--fresh]",
    options: { store: { type: "string" }, "exit-if-busy": { type: "boolean" }, rerun: { type: "boolean" }, fresh: { type: "boolean" } },
    run: (positionals, values) => {
      if (positionals.length !== 1) throw new CliError(`run takes one spec file, got ${positionals.length}\nusage: ${COMMANDS.run.summary}`);
      return runCommand(positionals[0], { store: values.store as string | undefined, exitIfBusy: Boolean(values["exit-if-busy"]), rerun: Boolean(values.rerun), fresh: Boolean(values.fresh) });
    },
  },
  status: {
    summary: "spotjob status <spec.yaml> [--store URL] [--json]",
    options: { store: { type: "string" }, json: { type: "boolean" } },
    run: (positionals, values) => {
      if (positionals.length !== 1) throw new CliError(`status takes one spec file, got ${positionals.length}\nusage: ${COMMANDS.status.summary}`);
      return statusCommand(positionals[0], { store: values.store as string | undefined, json: Boolean(values.json) });
    },
  },
  logs: {
    summary: "spotjob logs <spec.yaml> [--store URL] [--attempt N] [-f]",
    options: { store: { type: "string" }, attempt: { type: "string" }, follow: { type: "boolean", short: "f" } },
    run: (positionals, values) => {
      if (positionals.length !== 1) throw new CliError(`logs takes one spec file, got ${positionals.length}\nusage: ${COMMANDS.logs.summary}`);
      return logsCommand(positionals[0], { store: values.store as string | undefined, attempt: values.attempt as string | undefined, follow: Boolean(values.follow) });
    },
  },
  jobs: {
    summary: "spotjob jobs [ROOT] [--json]",
    options: { json: { type: "boolean" } },
    run: (positionals, values) => {
      if (positionals.length > 1) throw new CliError(`jobs takes at most one store root, got ${positionals.length}\nusage: ${COMMANDS.jobs.summary}`);
      return jobsCommand(positionals[0], { json: Boolean(values.json) });
    },
  },
  cancel: {
    summary: "spotjob cancel <spec.yaml> [--store URL] [--no-wait] [--timeout SECONDS]",
    options: { store: { type: "string" }, "no-wait": { type: "boolean" }, timeout: { type: "string" } },
    run: (positionals, values) => {
      if (positionals.length !== 1) throw new CliError(`cancel takes one spec file, got ${positionals.length}\nusage: ${COMMANDS.cancel.summary}`);
      const timeoutSeconds = values.timeout === undefined ? 120 : Number(values.timeout);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) throw new CliError(`--timeout takes a number of seconds, got ${String(values.timeout)}\nusage: ${COMMANDS.cancel.summary}`);
      return cancelCommand(positionals[0], { store: values.store as string | undefined, wait: !values["no-wait"], timeoutSeconds });
    },
  },
  schema: {
    summary: "spotjob schema",
    options: {},
    run: () => schemaCommand(),
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(USAGE);
    return name === undefined ? EXIT.error : EXIT.ok;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`spotjob ${VERSION}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    const guess = closest(name, Object.keys(COMMANDS));
    throw new CliError(`unknown command \`${name}\`${guess ? `; did you mean \`${guess}\`?` : ""}\n\n${USAGE}`);
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`usage: ${command.summary}\n`);
    return EXIT.ok;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (e) {
    const message = (e as Error).message.replace(/\. To specify a positional.*$/s, "");
    // A mistyped flag: the nearest one this command takes.
    const flag = /^Unknown option '(--?[^']+)'/.exec(message)?.[1];
    const guess = flag && closest(flag.replace(/^-+/, ""), Object.keys(command.options ?? {}));
    throw new CliError(`${message}${guess ? `; did you mean \`--${guess}\`?` : ""}\nusage: ${command.summary}`);
  }
  return command.run(parsed.positionals, parsed.values);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const expected = expectedFailure(e);
    if (expected) {
      process.stderr.write(`${style(process.stderr).red("error:")} ${expected.message}\n`);
      process.exitCode = expected.exitCode;
      // Other calls to that store may still be retrying (status reads two objects at once): they would only fail alike.
      if (expected.exitCode === EXIT.store) process.exit();
    } else {
      process.stderr.write(`spotjob: internal error: ${(e as Error)?.stack ?? String(e)}\nPlease report this with the spec that caused it.\n`);
      process.exitCode = EXIT.error;
    }
  },
);
