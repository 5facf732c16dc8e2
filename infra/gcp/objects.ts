import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { jobUploads, type UploadsArgs } from "../shared/uploads";

export interface JobObjectsArgs extends UploadsArgs {
  bucket: pulumi.Input<string>;
}

/** What the VM fetches at boot: the runtime, the spec, and the workdir (packed per .gitignore). */
export class JobObjects extends pulumi.ComponentResource {
  readonly runtimeKey: pulumi.Output<string>;
  readonly specKey: pulumi.Output<string>;
  readonly workdirKey: pulumi.Output<string | undefined>;

  constructor(name: string, args: JobObjectsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:gcp:JobObjects", name, {}, opts);
    const made = new Map(
      jobUploads(args).map((u) => [u.part, new gcp.storage.BucketObject(`${name}-${u.part}`, { bucket: args.bucket, name: u.key, source: u.source, contentType: u.contentType }, { parent: this }).name]),
    );
    this.runtimeKey = made.get("runtime")!;
    this.specKey = made.get("spec")!;
    this.workdirKey = made.get("workdir") ?? pulumi.output(undefined);
    this.registerOutputs({ runtimeKey: this.runtimeKey, specKey: this.specKey, workdirKey: this.workdirKey });
  }
}
