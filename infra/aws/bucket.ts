import * as command from "@pulumi/command";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { tlsOnlyBucketPolicy } from "./policy";

export interface JobBucketArgs {
  /** Job name, for the bucket's name prefix and tags. */
  jobName: string;
  /** Where the job's objects live in the bucket; printed by `pulumi destroy`. */
  prefix: string;
  /**
   * An existing bucket to use instead of creating one (`spotjob:bucket`):
   * how a stack resumes from results an earlier stack kept.
   * @example "spotjob-confinement-h100-20261124"
   */
  existingBucket?: string;
  /** Delete the bucket and every result in it on `pulumi destroy` (`spotjob:deleteResultsOnDestroy`). Default false. */
  deleteOnDestroy?: boolean;
  tags?: Record<string, string>;
}

/**
 * A failed lookup that means "not in this region": S3 answers a request for a
 * bucket in another region with a redirect (301 PermanentRedirect) or a
 * signing-region error (400 AuthorizationHeaderMalformed), never 404.
 */
const ELSEWHERE = /\b301\b|Moved ?Permanently|PermanentRedirect|BucketRegionError|AuthorizationHeaderMalformed|IllegalLocationConstraint|incorrect region/i;

/** AWS's commercial regions: where a reused bucket is looked for after the regions the job could run in. */
export const AWS_REGIONS = [
  "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1", "mx-central-1", "sa-east-1",
  "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
  "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
  "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-east-1", "me-south-1", "me-central-1", "il-central-1", "af-south-1",
] as const;

/**
 * The region a reused bucket is in, looked up now (at preview) from each of
 * `regions` in turn until one can read it: the bucket's reader must be in its
 * region, so the regions the job could run in come first. A bucket that does
 * not exist or cannot be read fails at once, with the provider's words.
 */
export async function findBucketRegion(bucket: string, regions: readonly string[], provider: aws.Provider): Promise<string> {
  const tried: string[] = [];
  let first: unknown;
  for (const region of [...new Set(regions)]) {
    try {
      const found = await aws.s3.getBucket({ bucket, region }, { provider });
      return found.bucketRegion || region;
    } catch (e) {
      tried.push(region);
      const elsewhere = ELSEWHERE.test(e instanceof Error ? e.message : String(e));
      // The first answer decides whether the bucket can be read at all; a later region may just not be enabled.
      if (first === undefined && !elsewhere) {
        first = e;
        break;
      }
      first ??= e;
    }
  }
  const words = (first instanceof Error ? first.message : String(first)).replace(/\s+/g, " ").trim().slice(0, 400);
  const elsewhere = ELSEWHERE.test(words);
  throw new pulumi.RunError(
    elsewhere
      ? `spotjob:bucket ${bucket} is in none of the ${tried.length === 1 ? "region" : `${tried.length} regions`} tried (${tried.length > 4 ? `${tried.slice(0, 4).join(", ")}, …` : tried.join(", ")}: ${words}); a reused bucket must be in the job's region: \`aws s3api get-bucket-location --bucket ${bucket}\` says where it is`
      : `spotjob:bucket ${bucket} cannot be read (from ${tried.join(", ")}): ${words}. Check the name (\`aws s3 ls s3://${bucket}\`) and the stack's credentials, or \`pulumi config rm spotjob:bucket\` for a new bucket`,
  );
}

/**
 * The job's durable store: versioned, encrypted, private, TLS-only, with old
 * versions expiring. Kept by `pulumi destroy` unless the stack opts in to
 * deleting it; destroy says where the results are and how to resume.
 */
export class JobBucket extends pulumi.ComponentResource {
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;

  constructor(name: string, args: JobBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:aws:JobBucket", name, {}, opts);
    if (args.existingBucket) {
      // Not ours to configure or delete: it only has to exist.
      const found = aws.s3.getBucketOutput({ bucket: args.existingBucket }, { parent: this });
      this.bucketName = found.bucket;
      this.bucketArn = found.arn;
      this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn });
      return;
    }
    // Results outlive the stack unless asked otherwise; so do the settings that keep them private.
    const keep = !args.deleteOnDestroy;
    const kept = { parent: this, retainOnDelete: keep };
    const bucket = new aws.s3.Bucket(name, { bucketPrefix: `${`spotjob-${args.jobName}`.slice(0, 36)}-`, forceDestroy: !keep, tags: args.tags }, kept);
    const ownership = new aws.s3.BucketOwnershipControls(`${name}-ownership`, { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, kept);
    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
      kept,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }] },
      kept,
    );
    const versioning = new aws.s3.BucketVersioning(`${name}-versioning`, { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, kept);
    // An explicit filter (an empty one is deprecated by the provider): the job's objects, which is all the bucket holds.
    const jobObjects = { prefix: `${args.prefix}/` };
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      {
        bucket: bucket.id,
        rules: [
          // Every overwrite keeps the old version (a torn upload can be rolled back by hand); a month is enough.
          { id: "expire-old-versions", status: "Enabled", filter: jobObjects, noncurrentVersionExpiration: { noncurrentDays: 30 }, expiration: { expiredObjectDeleteMarker: true } },
          // A checkpoint upload interrupted for good (its machine preempted mid-upload) leaves parts that bill as storage.
          { id: "abort-stalled-uploads", status: "Enabled", filter: jobObjects, abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } },
        ],
      },
      { ...kept, dependsOn: [versioning] },
    );
    new aws.s3.BucketPolicy(`${name}-tls-only`, { bucket: bucket.id, policy: bucket.arn.apply((arn) => JSON.stringify(tlsOnlyBucketPolicy(arn))) }, { ...kept, dependsOn: [publicAccess, ownership] });
    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;

    // `pulumi destroy` runs this resource's delete: the one moment to say where the results stay.
    new command.local.Command(
      `${name}-results-notice`,
      {
        create: 'echo "spotjob: results go to s3://$BUCKET/$PREFIX"',
        delete: keep
          ? // The bucket is versioned: `aws s3 rb --force` leaves the old versions and fails; both ways below remove them.
            'echo "spotjob: results kept in s3://$BUCKET/$PREFIX (the bucket is no longer managed by this stack). To resume from them: pulumi config set spotjob:bucket $BUCKET && pulumi up. ' +
            'To delete them with every old version: empty the bucket in the S3 console (Empty deletes all versions), then aws s3 rb s3://$BUCKET; ' +
            '(for pulumi destroy to delete the bucket and its versions itself, run pulumi config set spotjob:deleteResultsOnDestroy true && pulumi up before it)"'
          : 'echo "spotjob: deleting s3://$BUCKET with every result in it (spotjob:deleteResultsOnDestroy is true)"',
        environment: { BUCKET: bucket.bucket, PREFIX: args.prefix },
        logging: "stdout",
      },
      { parent: this },
    );
    this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn });
  }
}
