import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { jobUploads, type UploadsArgs } from "../shared/uploads";

export interface JobObjectsArgs extends UploadsArgs {
  bucket: pulumi.Input<string>;
  tags?: Record<string, string>;
}

/** What the instance fetches at boot: the runtime, the spec, and the workdir (packed per .gitignore). */
export class JobObjects extends pulumi.ComponentResource {
  readonly runtimeKey: pulumi.Output<string>;
  readonly specKey: pulumi.Output<string>;
  readonly workdirKey: pulumi.Output<string | undefined>;

  constructor(name: string, args: JobObjectsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:aws:JobObjects", name, {}, opts);
    const made = new Map(
      jobUploads(args).map((u) => [u.part, new aws.s3.BucketObjectv2(`${name}-${u.part}`, { bucket: args.bucket, key: u.key, source: u.source, contentType: u.contentType, tags: args.tags }, { parent: this }).key]),
    );
    this.runtimeKey = made.get("runtime")!;
    this.specKey = made.get("spec")!;
    this.workdirKey = made.get("workdir") ?? pulumi.output(undefined);
    this.registerOutputs({ runtimeKey: this.runtimeKey, specKey: this.specKey, workdirKey: this.workdirKey });
  }
}
