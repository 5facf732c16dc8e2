/**
 * The AWS instance's startup script (EC2 user data, run as root at boot):
 * the shared skeleton (infra/shared/startup-skeleton.ts: values, Node.js,
 * launcher, systemd unit) with the AWS values, an `s3_get` through the AWS
 * CLI, and the AWS instance environment. Pure. Every value is assigned once,
 * as a single-quoted literal, at the top; the rest of the text is fixed and
 * reads the values only as "$VAR", so no value can become code.
 */

import { GROUPS_ENV, INSTANCE_ENV } from "../../core/wire/instance-env";
import { shellValueProblem } from "../shared/shell";
import { renderStartupSkeleton, retryingDownload } from "../shared/startup-skeleton";

export interface StartupScriptArgs {
  /** Job name (spec.name). Only ever a shell value, never code. */
  jobName: string;
  region: string;
  bucket: string;
  /** The job's key prefix, no slashes at either end; the store is s3://<bucket>/<prefix>. */
  prefix: string;
  /** S3 keys (within bucket) of the uploaded objects. */
  runtimeKey: string; // the bundled runtime, runtime.cjs
  specKey: string; // the resolved spec as JSON; its workdir field is "work" (relative to the spec file)
  workdirKey?: string; // the workdir as a .tar.gz, extracted into $ROOT/work
  /** The job's Auto Scaling groups, given to the runtime as SPOTJOB_AWS_GROUPS (comma-joined). */
  groupNames: string[];
  /** Grace period for the job on a stop signal (SPOTJOB_GRACE_SECONDS), default 20. */
  graceSeconds?: number;
}

/** The pinned Node.js, now in the shared skeleton; importable from here as before. */
export { NODE_MIN_MAJOR, NODE_PIN } from "../shared/startup-skeleton";

function check(a: StartupScriptArgs): void {
  const fail = (what: string, why: string) => {
    throw new Error(`startup script: ${what} ${why}`);
  };
  const strings: [string, string | undefined][] = [
    ["jobName", a.jobName],
    ["region", a.region],
    ["bucket", a.bucket],
    ["prefix", a.prefix],
    ["runtimeKey", a.runtimeKey],
    ["specKey", a.specKey],
    ["workdirKey", a.workdirKey],
    ...a.groupNames.map((g, i): [string, string] => [`groupNames[${i}]`, g]),
  ];
  for (const [what, value] of strings) {
    const problem = value === undefined ? undefined : shellValueProblem(value);
    if (problem) fail(what, problem);
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(a.region)) fail("region", `${JSON.stringify(a.region)} is not an AWS region`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(a.bucket)) fail("bucket", `${JSON.stringify(a.bucket)} is not an S3 bucket name`);
  // The runtime drops empty segments of the store URL; the role's policy would not.
  if (a.prefix.split("/").some((s) => s === "")) fail("prefix", "must have no slash at either end and no empty segment");
  for (const [i, g] of a.groupNames.entries()) {
    // SPOTJOB_AWS_GROUPS is comma-joined and the runtime trims each name.
    if (g.includes(",") || g.trim() !== g) fail(`groupNames[${i}]`, "must hold no comma and no surrounding whitespace");
  }
  const grace = a.graceSeconds ?? 20;
  if (!Number.isSafeInteger(grace) || grace < 0) fail("graceSeconds", "must be a whole number of seconds, 0 or more");
}

export function renderStartupScript(a: StartupScriptArgs): string {
  check(a);
  const grace = a.graceSeconds ?? 20;
  return renderStartupSkeleton({
    bootSource: "EC2 user data",
    values: [
      ["JOB_NAME", a.jobName],
      ["REGION", a.region],
      ["BUCKET", a.bucket],
      ["PREFIX", a.prefix],
      ["RUNTIME_KEY", a.runtimeKey],
      ["SPEC_KEY", a.specKey],
      ["WORKDIR_KEY", a.workdirKey ?? ""],
      ["ASG_NAMES", a.groupNames.join(",")],
      ["GRACE_SECONDS", String(grace)],
    ],
    // systemd's SIGKILL must come after the runtime's own grace period and its final uploads.
    stopTimeoutSeconds: grace + 30,
    download: "s3_get",
    downloadFunction: retryingDownload({
      name: "s3_get",
      why: "the instance role or the network may not be ready this early in boot",
      attempt: 'aws s3 cp --only-show-errors --region "$REGION" "s3://$BUCKET/$1" "$2.part"',
      source: "s3://$BUCKET",
    }),
    exports: [
      [INSTANCE_ENV.cloud, "aws"],
      [GROUPS_ENV.aws, '"$ASG_NAMES"'],
      ["AWS_REGION", '"$REGION"'],
      ["AWS_DEFAULT_REGION", '"$REGION"'],
      [INSTANCE_ENV.graceSeconds, '"$GRACE_SECONDS"'],
    ],
    passThrough: ["AWS_ENDPOINT_URL"],
    storeUrl: '"s3://$BUCKET/$PREFIX"',
  });
}
