import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { JobObjects, type UploadsArgs } from "../shared/uploads";

export interface GcpJobObjectsArgs extends UploadsArgs {
  bucket: pulumi.Input<string>;
}

/** The job's boot objects as GCS objects. */
export function gcpJobObjects(name: string, args: GcpJobObjectsArgs, opts?: pulumi.ComponentResourceOptions): JobObjects {
  return new JobObjects("spotjob:gcp:JobObjects", name, args, (resourceName, u, o) => new gcp.storage.BucketObject(resourceName, { bucket: args.bucket, name: u.key, source: u.source, contentType: u.contentType }, o).name, opts);
}
