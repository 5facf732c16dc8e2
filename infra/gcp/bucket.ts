import * as command from "@pulumi/command";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface JobBucketArgs {
  /** Where the bucket is: the job's region (no egress between the bucket and the VMs). */
  location: string;
  project: pulumi.Input<string>;
  /** Where the job's objects live in the bucket; printed by `pulumi destroy`. */
  prefix: string;
  /**
   * An existing bucket to use instead of creating one (`spotjob:bucket`): how
   * a stack resumes from results an earlier stack kept. A GCS bucket name is
   * global and any region reads it, so the job needs nothing from it but its
   * name, and uniform bucket-level access, which IAM Conditions require
   * (checked at preview: `existingBucketProblem`).
   */
  existingBucket?: string;
  /** Delete the bucket and every result in it on `pulumi destroy` (`spotjob:deleteResultsOnDestroy`). Default false. */
  deleteOnDestroy?: boolean;
  labels?: Record<string, string>;
}

/**
 * Why a reused bucket (`spotjob:bucket`) cannot hold the job, as
 * `storage.getBucket` describes it, or undefined: the job's grants are IAM
 * Conditions, which a bucket takes only with uniform bucket-level access
 * (https://cloud.google.com/storage/docs/access-control/iam#conditions). Pure.
 */
export function existingBucketProblem(bucket: string, found: { uniformBucketLevelAccess?: boolean }): string | undefined {
  if (found.uniformBucketLevelAccess) return undefined;
  return (
    `spotjob:bucket ${bucket} does not have uniform bucket-level access, which the job's prefix-scoped grants (IAM Conditions) need: ` +
    `turn it on (gcloud storage buckets update gs://${bucket} --uniform-bucket-level-access) or \`pulumi config rm spotjob:bucket\` for a new bucket`
  );
}

/** Days an overwritten or deleted object's old version is kept (to roll a torn write back by hand). */
export const NONCURRENT_DAYS = 7;
/** Days before a stalled upload's leftovers (XML multipart parts, staged composite parts) are removed. */
export const STALLED_UPLOAD_DAYS = 1;

/**
 * The bucket's lifecycle: old versions go after a week, stalled uploads
 * after a day. Both kinds of upload leftovers: XML API multipart parts
 * (AbortIncompleteMultipartUpload) and the runtime's composite-upload parts,
 * staged as objects under `<prefix>/uploads/` (runtime/store/gcs.ts) and
 * composed into the final object, which a preempted upload leaves behind
 * (https://cloud.google.com/storage/docs/lifecycle#actions).
 */
export function lifecycleRules(prefix: string): gcp.types.input.storage.BucketLifecycleRule[] {
  return [
    { action: { type: "Delete" }, condition: { withState: "ARCHIVED", daysSinceNoncurrentTime: NONCURRENT_DAYS, matchesPrefixes: [`${prefix}/`] } },
    { action: { type: "AbortIncompleteMultipartUpload" }, condition: { age: STALLED_UPLOAD_DAYS, matchesPrefixes: [`${prefix}/`] } },
    { action: { type: "Delete" }, condition: { age: STALLED_UPLOAD_DAYS, matchesPrefixes: [`${prefix}/uploads/`] } },
  ];
}

/**
 * The job's durable store: private (uniform bucket-level access, public
 * access prevention enforced), versioned with old versions expiring, and with
 * soft delete off. Soft delete (7 days by default) keeps and bills every
 * overwritten object, and the journal, lease and status objects are
 * overwritten all the time; versioning already keeps each old version a
 * week, and is what a torn write is rolled back from
 * (https://cloud.google.com/storage/docs/soft-delete: a retention of 0
 * turns it off; otherwise 7 to 90 days). Kept by `pulumi destroy` unless the
 * stack opts in to deleting it; destroy says where the results are and how
 * to resume.
 */
export class JobBucket extends pulumi.ComponentResource {
  readonly bucketName: pulumi.Output<string>;

  constructor(name: string, args: JobBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:gcp:JobBucket", name, {}, opts);
    if (args.existingBucket) {
      // Not ours to configure or delete (deploy.ts checked it at preview: `existingBucketProblem`).
      this.bucketName = pulumi.output(args.existingBucket);
      this.registerOutputs({ bucketName: this.bucketName });
      return;
    }
    const keep = !args.deleteOnDestroy;
    const bucket = new gcp.storage.Bucket(
      name,
      {
        project: args.project,
        location: args.location.toUpperCase(),
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        softDeletePolicy: { retentionDurationSeconds: 0 },
        versioning: { enabled: true },
        lifecycleRules: lifecycleRules(args.prefix),
        forceDestroy: !keep,
        labels: args.labels,
      },
      { parent: this, retainOnDelete: keep },
    );
    this.bucketName = bucket.name;

    // `pulumi destroy` runs this resource's delete: the one moment to say where the results stay.
    new command.local.Command(
      `${name}-results-notice`,
      {
        create: 'echo "spotjob: results go to gs://$BUCKET/$PREFIX"',
        delete: keep
          ? 'echo "spotjob: results kept in gs://$BUCKET/$PREFIX (the bucket is no longer managed by this stack). To resume from them: pulumi config set spotjob:bucket $BUCKET && pulumi up. ' +
            "To delete them with every old version: gcloud storage rm --recursive --all-versions gs://$BUCKET " +
            '(for pulumi destroy to delete the bucket itself, run pulumi config set spotjob:deleteResultsOnDestroy true && pulumi up before it)"'
          : 'echo "spotjob: deleting gs://$BUCKET with every result in it (spotjob:deleteResultsOnDestroy is true)"',
        environment: { BUCKET: bucket.name, PREFIX: args.prefix },
        logging: "stdout",
      },
      { parent: this },
    );
    this.registerOutputs({ bucketName: this.bucketName });
  }
}
