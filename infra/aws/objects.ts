import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { resolve } from "node:path";
import type { ResolvedSpec } from "../../core/jobspec/load";
import { packWorkdir } from "../shared/workdir-archive";

export interface JobObjectsArgs {
  bucket: pulumi.Input<string>;
  prefix: string;
  /** The bundled runtime (dist/runtime.cjs). */
  runtimeBundle: string;
  /** The validated spec: uploaded as JSON, so the instance never parses YAML or sees the user's files. */
  spec: ResolvedSpec;
  /** Directory of the spec file: `workdir` is relative to it. */
  specDir: string;
  tags?: Record<string, string>;
}

/** Where the instance extracts the workdir, relative to the uploaded spec (see the startup script). */
export const INSTANCE_WORKDIR = "work";

/** What the instance fetches at boot: the runtime, the spec, and the workdir (packed per .gitignore). */
export class JobObjects extends pulumi.ComponentResource {
  readonly runtimeKey: pulumi.Output<string>;
  readonly specKey: pulumi.Output<string>;
  readonly workdirKey: pulumi.Output<string | undefined>;

  constructor(name: string, args: JobObjectsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:aws:JobObjects", name, {}, opts);
    const object = (suffix: string, key: string, source: pulumi.Input<pulumi.asset.Asset>, contentType: string) =>
      new aws.s3.BucketObjectv2(`${name}-${suffix}`, { bucket: args.bucket, key: `${args.prefix}/deploy/${key}`, source, contentType, tags: args.tags }, { parent: this });
    const instanceSpec: ResolvedSpec = { ...args.spec, workdir: INSTANCE_WORKDIR };
    this.runtimeKey = object("runtime", "runtime.cjs", new pulumi.asset.FileAsset(args.runtimeBundle), "application/javascript").key;
    this.specKey = object("spec", "spec.json", new pulumi.asset.StringAsset(JSON.stringify(instanceSpec, null, 2)), "application/json").key;
    if (args.spec.workdir) {
      // An over-size workdir fails the preview with the largest files named.
      const archive = pulumi.output(
        packWorkdir(resolve(args.specDir, args.spec.workdir)).catch((e: Error) => {
          throw new pulumi.RunError(e.message); // the located message, without a stack
        }),
      );
      this.workdirKey = object("workdir", "workdir.tar.gz", archive.apply((a) => new pulumi.asset.FileAsset(a.file)), "application/gzip").key;
    } else {
      this.workdirKey = pulumi.output(undefined);
    }
    this.registerOutputs({ runtimeKey: this.runtimeKey, specKey: this.specKey, workdirKey: this.workdirKey });
  }
}
