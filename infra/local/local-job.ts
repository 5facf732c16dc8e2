import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { renderLocalStart, renderLocalStop } from "./start-script";

export interface LocalJobArgs {
  /** Job name (from the spec). */
  jobName: string;
  /** Absolute path of the job spec the runtime runs. */
  specFile: string;
  /** Hash of the spec's content: a changed spec restarts the runtime. */
  specHash: string;
  /** Where progress is kept: a directory, s3:// or gs://. */
  storeUrl: pulumi.Input<string>;
  /** Machine-local runtime state (journal, logs, pid). */
  stateDir: string;
  /** The bundled runtime (dist/runtime.cjs). */
  runtimeBundle: string;
  /** The Node.js binary that runs it. */
  nodePath?: string;
}

/**
 * A job on this machine: `pulumi up` starts the spotjob runtime in the
 * background, `pulumi destroy` stops it gracefully. Progress survives both;
 * the next `up` resumes.
 */
export class LocalJob extends pulumi.ComponentResource {
  readonly storeUrl: pulumi.Output<string>;
  readonly logFile: string;
  /** What the start script printed (the runtime's pid and log), once `pulumi up` has run it. */
  readonly started: pulumi.Output<string>;

  constructor(name: string, args: LocalJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:local:Job", name, {}, opts);
    const environment = {
      SPOTJOB_NODE: args.nodePath ?? process.execPath,
      SPOTJOB_RUNTIME: args.runtimeBundle,
      SPOTJOB_SPEC: args.specFile,
      SPOTJOB_STORE: args.storeUrl,
      SPOTJOB_STATE: args.stateDir,
    };
    const runtime = new command.local.Command(
      `${name}-runtime`,
      {
        create: renderLocalStart(),
        delete: renderLocalStop(),
        interpreter: ["/bin/bash", "-c"],
        environment,
        triggers: [args.specHash, args.storeUrl],
      },
      // A changed spec replaces the command: the old runtime must stop before the new one starts. Created first
      // (Pulumi's default), the new create would find the old runtime still running and do nothing, and the old
      // delete would then stop the only runtime there is.
      { parent: this, deleteBeforeReplace: true },
    );
    this.storeUrl = pulumi.output(args.storeUrl);
    this.logFile = `${args.stateDir}/runtime.log`;
    this.started = runtime.stdout;
    this.registerOutputs({ storeUrl: this.storeUrl, logFile: this.logFile, started: this.started });
  }
}
