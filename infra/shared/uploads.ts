/**
 * What an instance fetches at boot, on every cloud: the runtime bundle, the
 * validated spec as JSON (so the instance never parses YAML or sees the
 * user's files) and the workdir packed per .gitignore, under
 * `<prefix>/deploy/`. Each cloud's objects component is a `JobObjects`
 * with its own object resource.
 */
import * as pulumi from "@pulumi/pulumi";
import { resolve } from "node:path";
import type { ResolvedSpec } from "../../core/jobspec/load";
import { packWorkdir, WORKDIR_ARCHIVE_NAME } from "./workdir-archive";

/** Where the instance extracts the workdir, relative to the uploaded spec ($ROOT/work: startup-skeleton.ts). */
export const INSTANCE_WORKDIR = "work";

export interface UploadsArgs {
  prefix: string;
  /** The bundled runtime (dist/runtime.cjs). */
  runtimeBundle: string;
  spec: ResolvedSpec;
  /** Directory of the spec file: `workdir` is relative to it. */
  specDir: string;
}

export interface Upload {
  /** Names the resource (`<component>-<part>`). */
  part: "runtime" | "spec" | "workdir";
  /** The object's key in the bucket. */
  key: string;
  source: pulumi.Input<pulumi.asset.Asset>;
  contentType: string;
}

export function jobUploads(args: UploadsArgs): Upload[] {
  const key = (name: string) => `${args.prefix}/deploy/${name}`;
  const instanceSpec: ResolvedSpec = { ...args.spec, workdir: INSTANCE_WORKDIR };
  const uploads: Upload[] = [
    { part: "runtime", key: key("runtime.cjs"), source: new pulumi.asset.FileAsset(args.runtimeBundle), contentType: "application/javascript" },
    { part: "spec", key: key("spec.json"), source: new pulumi.asset.StringAsset(JSON.stringify(instanceSpec, null, 2)), contentType: "application/json" },
  ];
  if (args.spec.workdir) {
    // An over-size workdir fails the preview with the largest files named.
    const archive = pulumi.output(
      packWorkdir(resolve(args.specDir, args.spec.workdir)).catch((e: Error) => {
        throw new pulumi.RunError(e.message); // the located message, without a stack
      }),
    );
    uploads.push({ part: "workdir", key: key(WORKDIR_ARCHIVE_NAME), source: archive.apply((a) => new pulumi.asset.FileAsset(a.file)), contentType: "application/gzip" });
  }
  return uploads;
}

/** Creates one upload as an object in the job's bucket, with `opts` (parented to the component); resolves to its key. */
export type PutObject = (resourceName: string, upload: Upload, opts: pulumi.CustomResourceOptions) => pulumi.Output<string>;

/** What the instance fetches at boot: the runtime, the spec, and the workdir (packed per .gitignore). */
export class JobObjects extends pulumi.ComponentResource {
  readonly runtimeKey: pulumi.Output<string>;
  readonly specKey: pulumi.Output<string>;
  readonly workdirKey: pulumi.Output<string | undefined>;

  /** `type`: each cloud keeps its own token (spotjob:aws:JobObjects), so existing stacks' URNs do not change. */
  constructor(type: string, name: string, args: UploadsArgs, putObject: PutObject, opts?: pulumi.ComponentResourceOptions) {
    super(type, name, {}, opts);
    const made = new Map(jobUploads(args).map((u) => [u.part, putObject(`${name}-${u.part}`, u, { parent: this })]));
    this.runtimeKey = made.get("runtime")!;
    this.specKey = made.get("spec")!;
    this.workdirKey = made.get("workdir") ?? pulumi.output(undefined);
    this.registerOutputs({ runtimeKey: this.runtimeKey, specKey: this.specKey, workdirKey: this.workdirKey });
  }
}
