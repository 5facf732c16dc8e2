/**
 * A reused bucket (`spotjob:bucket`) and the job's region. The instance, the
 * uploads Pulumi makes and the store must share one region: from another one
 * every SDK v3 call meets S3's 301 (it follows it only with
 * `followRegionRedirects`), and every checkpoint bills as cross-region
 * transfer. So the bucket's region decides, when the spec leaves the choice
 * open; when the spec pins another region, preview fails naming both and the
 * two ways out. Pure: the program looks the region up and hands it here.
 */
import type { CloudSelection } from "../../core/offers/select";
import { planSpec, type Plan, type PlanOptions } from "../../core/plan/plan";

/** A plan ready to launch on a cloud. */
export type CloudPlan = Extract<Plan, { outcome: "ok" }> & { selection: CloudSelection };

export type BucketPlacement =
  /** The job runs where `plan` says; `movedFrom` is the region the cheapest offer was in, when the bucket moved the job. */
  | { ok: true; plan: CloudPlan; movedFrom?: string }
  | { ok: false; message: string };

/**
 * Where a job whose store is `bucket` (in `bucketRegion`) runs: its own
 * choice if that is the bucket's region; the bucket's region if the spec
 * allows it and the GPU is offered there within the cost guards; otherwise a
 * message for a preview error.
 */
export function placeForBucket(plan: CloudPlan, bucket: string, bucketRegion: string, prefix: string, options: PlanOptions = {}): BucketPlacement {
  const chosen = plan.selection.chosen.region;
  if (chosen === bucketRegion) return { ok: true, plan };
  const { spec } = plan.loaded;
  const copy = (region: string) =>
    `copy the results to a bucket in ${region} and use that one: \`aws s3 mb s3://<new bucket> --region ${region} && aws s3 sync s3://${bucket}/${prefix} s3://<new bucket>/${prefix} && pulumi config set spotjob:bucket <new bucket>\``;
  const why = `the instance, its uploads and its store must share one region (from ${chosen}, every S3 call would be redirected and every checkpoint billed as cross-region transfer)`;
  if (spec.region !== "") {
    return {
      ok: false,
      message:
        `spotjob:bucket ${bucket} is in ${bucketRegion}, and the spec pins the job to ${spec.region} (\`region: ${spec.region}\`): ${why}. ` +
        `Either set \`region: ${bucketRegion}\` in the spec, or ${copy(spec.region)}.`,
    };
  }
  if (spec.regions && !spec.regions.includes(bucketRegion)) {
    return {
      ok: false,
      message:
        `spotjob:bucket ${bucket} is in ${bucketRegion}, which is not one of the spec's \`regions: [${spec.regions.join(", ")}]\`: ${why}. ` +
        `Either add ${bucketRegion} to \`regions\`, or ${copy(chosen)}.`,
    };
  }
  // The choice is open: choose again, in the bucket's region only.
  const there = planSpec({ ...plan.loaded, spec: { ...spec, region: "", regions: [bucketRegion] } }, options);
  if (there.outcome === "ok" && !there.selection.local) return { ok: true, plan: there as CloudPlan, movedFrom: chosen };
  const reasons = ("errors" in there ? there.errors : []).map((e) => e.message).join("; ") || `no ${plan.selection.market} offer there`;
  return {
    ok: false,
    message:
      `spotjob:bucket ${bucket} is in ${bucketRegion}, and this job cannot run there: ${reasons}. ${why[0].toUpperCase()}${why.slice(1)}. ` +
      `Either ${copy(chosen)}, or leave spotjob:bucket unset (\`pulumi config rm spotjob:bucket\`) to start afresh in a new bucket.`,
  };
}
