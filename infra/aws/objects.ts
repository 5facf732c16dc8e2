import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { JobObjects, type UploadsArgs } from "../shared/uploads";

export interface AwsJobObjectsArgs extends UploadsArgs {
  bucket: pulumi.Input<string>;
  tags?: Record<string, string>;
}

/** The job's boot objects as S3 objects, tagged with the job. */
export function awsJobObjects(name: string, args: AwsJobObjectsArgs, opts?: pulumi.ComponentResourceOptions): JobObjects {
  return new JobObjects("spotjob:aws:JobObjects", name, args, (resourceName, u, o) => new aws.s3.BucketObjectv2(resourceName, { bucket: args.bucket, key: u.key, source: u.source, contentType: u.contentType, tags: args.tags }, o).key, opts);
}
