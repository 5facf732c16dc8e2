/**
 * The GCP instance's startup script (the `startup-script` metadata value, run
 * as root at boot by the guest agent): the shared skeleton
 * (infra/shared/startup-skeleton.ts: values, Node.js, launcher, systemd unit)
 * with the GCP values, a `gcs_get` and the GCP instance environment. Pure.
 *
 * It needs no gcloud and no gsutil, only curl and the Node.js the skeleton
 * ensures: an access token of the instance's service account from the
 * metadata server, then each object through the GCS JSON API.
 *   - token: GET http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token
 *     with `Metadata-Flavor: Google`, answering JSON `{"access_token", "expires_in", "token_type": "Bearer"}`
 *     (https://cloud.google.com/compute/docs/access/authenticate-workloads#applications);
 *     GCE_METADATA_HOST replaces the host, as Google's client libraries read it.
 *   - object: GET https://storage.googleapis.com/storage/v1/b/BUCKET/o/OBJECT?alt=media with
 *     `Authorization: Bearer TOKEN`, the object name percent-encoded
 *     (https://cloud.google.com/storage/docs/request-endpoints#encoding);
 *     STORAGE_EMULATOR_HOST replaces the endpoint, as the client libraries read it.
 */

import { isGroupPath, parseGroupPath } from "../../core/wire/gcp-group-path";
import { formatInstanceEnv } from "../../core/wire/instance-env";
import { formatObjectStoreUrl } from "../../core/wire/store-url";
import { shellValueProblem } from "../shared/shell";
import { renderStartupSkeleton, retryingDownload } from "../shared/startup-skeleton";

export interface GcpStartupScriptArgs {
  /** Job name (spec.name). Only ever a shell value, never code. */
  jobName: string;
  /** The project the job runs in; given to the runtime as GOOGLE_CLOUD_PROJECT. */
  project: string;
  bucket: string;
  /** The job's object-name prefix, no slashes at either end; the store is gs://<bucket>/<prefix>. */
  prefix: string;
  /** Object names (within bucket) of the uploaded objects. */
  runtimeKey: string; // the bundled runtime, runtime.cjs
  specKey: string; // the resolved spec as JSON; its workdir field is "work" (relative to the spec file)
  workdirKey?: string; // the workdir as a .tar.gz, extracted into $ROOT/work
  /** The job's managed instance groups, `projects/P/regions/R/instanceGroupManagers/N`, given to the runtime as SPOTJOB_GCP_GROUPS. */
  groupPaths: string[];
  /** Grace period for the job on a stop signal (SPOTJOB_GRACE_SECONDS), default GCP_DEFAULT_GRACE_SECONDS. */
  graceSeconds?: number;
}

/**
 * GCP powers a preempted VM off about 30 s after the preemption flag (the
 * ACPI soft-off comes with the flag; https://cloud.google.com/compute/docs/instances/spot#preemption-process):
 * the whole stop, the job's grace period and the runtime's final uploads, must end within this many seconds of it.
 */
export const GCP_STOP_BUDGET_SECONDS = 25;
/** What the runtime keeps, of the stop budget, for its final uploads after the job's grace period. */
export const GCP_FINAL_UPLOAD_SECONDS = 10;
/** The job's default grace period on GCP: all the stop budget leaves it. */
export const GCP_DEFAULT_GRACE_SECONDS = GCP_STOP_BUDGET_SECONDS - GCP_FINAL_UPLOAD_SECONDS;

/** A project ID: 6 to 30 lowercase letters, digits and hyphens, from a letter, not ending in a hyphen (https://cloud.google.com/resource-manager/docs/creating-managing-projects). */
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** A Compute Engine region: `us-central1`, `europe-west4`, `northamerica-northeast1`. */
const REGION = /^[a-z]+-[a-z]+[0-9]+$/;

/** Why `name` is no GCS bucket name (https://cloud.google.com/storage/docs/buckets#naming), or undefined. */
function bucketNameProblem(name: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name)) return "must be lowercase letters, digits, dashes, underscores and dots, from and to a letter or digit";
  if (name.length < 3) return "must be 3 characters or more";
  if (name.includes(".") ? name.length > 222 || name.split(".").some((part) => part.length > 63) : name.length > 63)
    return "must be at most 63 characters (222 with dots, 63 between them)";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return "must not be an IP address";
  if (name.startsWith("goog") || /g[o0]{2}gle/.test(name)) return 'must not begin with "goog" nor contain "google"';
  return undefined;
}

/** Why `name` is no GCS object name (https://cloud.google.com/storage/docs/objects#naming), or undefined. */
function objectNameProblem(name: string): string | undefined {
  if (/[\r\n]/.test(name)) return "must hold no carriage return and no line feed (GCS refuses them in object names)";
  // A lone surrogate cannot be sent as UTF-8: GCS names are valid UTF-8.
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(name)) return "must be valid Unicode (it holds a lone surrogate)";
  if (Buffer.byteLength(name, "utf8") > 1024) return "must be at most 1024 bytes as UTF-8";
  if (name === "." || name === ".." || name.startsWith(".well-known/acme-challenge/")) return 'must not be "." or ".." nor begin with ".well-known/acme-challenge/"';
  return undefined;
}

function check(a: GcpStartupScriptArgs, grace: number): void {
  const fail = (what: string, why: string) => {
    throw new Error(`GCP startup script: ${what} ${why}`);
  };
  const strings: [string, string | undefined][] = [
    ["jobName", a.jobName],
    ["project", a.project],
    ["bucket", a.bucket],
    ["prefix", a.prefix],
    ["runtimeKey", a.runtimeKey],
    ["specKey", a.specKey],
    ["workdirKey", a.workdirKey],
    ...a.groupPaths.map((g, i): [string, string] => [`groupPaths[${i}]`, g]),
  ];
  for (const [what, value] of strings) {
    const problem = value === undefined ? undefined : shellValueProblem(value);
    if (problem) fail(what, problem);
  }
  if (!PROJECT_ID.test(a.project)) fail("project", `${JSON.stringify(a.project)} is not a GCP project ID (6 to 30 lowercase letters, digits and hyphens, from a letter, not ending in a hyphen)`);
  const bucketProblem = bucketNameProblem(a.bucket);
  if (bucketProblem) fail("bucket", `${JSON.stringify(a.bucket)} is not a GCS bucket name: it ${bucketProblem}`);
  // The runtime drops empty segments of the store URL; the service account's prefix condition would not.
  if (a.prefix.split("/").some((s) => s === "")) fail("prefix", "must have no slash at either end and no empty segment");
  for (const [what, name] of [["prefix", `${a.prefix}/`], ["runtimeKey", a.runtimeKey], ["specKey", a.specKey], ["workdirKey", a.workdirKey]] as const) {
    const problem = name === undefined ? undefined : objectNameProblem(name);
    if (problem) fail(what, problem);
  }
  for (const [i, path] of a.groupPaths.entries()) {
    const group = isGroupPath(path) ? parseGroupPath(path) : undefined;
    if (group?.scope !== "regions" || !REGION.test(group.location)) fail(`groupPaths[${i}]`, `${JSON.stringify(path)} is not a regional managed instance group path (projects/PROJECT/regions/REGION/instanceGroupManagers/NAME)`);
    if (group?.project !== a.project) fail(`groupPaths[${i}]`, `${JSON.stringify(path)} is not in the job's project ${JSON.stringify(a.project)}`);
  }
  if (!Number.isSafeInteger(grace) || grace < 0) fail("graceSeconds", "must be a whole number of seconds, 0 or more");
  if (grace > GCP_DEFAULT_GRACE_SECONDS)
    fail(
      "graceSeconds",
      `${grace} is too long for GCP: the job's grace period and the runtime's final uploads (${GCP_FINAL_UPLOAD_SECONDS} s) must end within ${GCP_STOP_BUDGET_SECONDS} s of the preemption flag (the VM is powered off about 30 s after it); use ${GCP_DEFAULT_GRACE_SECONDS} or less`,
    );
}

/**
 * Small Node.js programs the script runs with `"$NODE" -e '…'`: fixed text
 * between single quotes, so none may hold a single quote (checked below).
 * Their input comes on stdin or in the environment, never spliced into code.
 */
const NODE_PROGRAMS = {
  /** The token response's access_token on stdout; printable ASCII without spaces only, so it cannot add a header line. */
  accessToken:
    'let t; try { t = JSON.parse(require("fs").readFileSync(0, "utf8")).access_token; } catch {} if (typeof t !== "string" || !/^[!-~]+$/.test(t)) { console.error("spotjob: the metadata server sent no access token"); process.exit(1); } process.stdout.write(t);',
  /** SPOTJOB_OBJECT_NAME percent-encoded as one URL path segment: every byte but A-Z a-z 0-9 - . _ ~. */
  encodeObjectName:
    'let s = ""; for (const b of Buffer.from(process.env.SPOTJOB_OBJECT_NAME, "utf8")) { const c = String.fromCharCode(b); s += /[A-Za-z0-9._~-]/.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0"); } process.stdout.write(s);',
};
for (const [name, program] of Object.entries(NODE_PROGRAMS)) {
  if (program.includes("'")) throw new Error(`GCP startup script: the ${name} program must hold no single quote (it is written between single quotes)`);
}

/** gcs_fetch (one try) and gcs_get (five), with the endpoints they use. */
function gcsDownload(): string[] {
  return [
    "# The GCS JSON API; STORAGE_EMULATOR_HOST (an emulator in tests) as Google's client libraries take it, with or without /storage/v1.",
    'gcs_api="${STORAGE_EMULATOR_HOST:-https://storage.googleapis.com}"',
    'gcs_api="${gcs_api%/}"',
    'gcs_api="${gcs_api%/storage/v1}"',
    'metadata="http://${GCE_METADATA_HOST:-metadata.google.internal}/computeMetadata/v1"',
    "# gcs_fetch KEY DEST: one try. The service account's token comes from the metadata server (never through a proxy,",
    "# which it refuses) and goes to curl on its standard input, never on a command line other users can read.",
    "gcs_fetch() {",
    "  local token object",
    `  token="$(curl -fsS --noproxy '*' --connect-timeout 5 --max-time 30 -H 'Metadata-Flavor: Google' "$metadata/instance/service-accounts/default/token" | "$NODE" -e '${NODE_PROGRAMS.accessToken}')" || return 1`,
    `  object="$(SPOTJOB_OBJECT_NAME="$1" "$NODE" -e '${NODE_PROGRAMS.encodeObjectName}')" || return 1`,
    "  # A stalled transfer (under 1 KiB/s for a minute) is given up and tried again.",
    "  printf 'Authorization: Bearer %s\\n' \"$token\" | curl -fsS --connect-timeout 10 --speed-limit 1024 --speed-time 60 -H @- -o \"$2\" \"$gcs_api/storage/v1/b/$BUCKET/o/$object?alt=media\"",
    "}",
    ...retryingDownload({
      name: "gcs_get",
      why: "the metadata server, the service account's grants or the network may not be ready this early in boot",
      attempt: 'gcs_fetch "$1" "$2.part"',
      source: "gs://$BUCKET",
    }),
  ];
}

/** The variable of the script's value block that holds an instance environment variable's value: SPOTJOB_GCP_GROUPS → GCP_GROUPS. */
const scriptVariable = (envName: string) => envName.replace(/^SPOTJOB_/, "");

export function renderGcpStartupScript(a: GcpStartupScriptArgs): string {
  const grace = a.graceSeconds ?? GCP_DEFAULT_GRACE_SECONDS;
  check(a, grace);
  const instanceEnv = formatInstanceEnv({ cloud: "gcp", groups: a.groupPaths, graceSeconds: grace });
  return renderStartupSkeleton({
    bootSource: "the GCE startup-script metadata",
    values: [
      ["JOB_NAME", a.jobName],
      ["PROJECT", a.project],
      ["BUCKET", a.bucket],
      ["STORE_URL", formatObjectStoreUrl("gs", a.bucket, a.prefix)],
      ["RUNTIME_KEY", a.runtimeKey],
      ["SPEC_KEY", a.specKey],
      ["WORKDIR_KEY", a.workdirKey ?? ""],
      ...instanceEnv.map(([name, value]): [string, string] => [scriptVariable(name), value]),
    ],
    // systemd's SIGKILL comes when the stop budget is spent, before the power-off.
    stopTimeoutSeconds: grace + GCP_FINAL_UPLOAD_SECONDS,
    download: "gcs_get",
    downloadFunction: gcsDownload(),
    exports: [...instanceEnv.map(([name]): [string, string] => [name, `"$${scriptVariable(name)}"`]), ["GOOGLE_CLOUD_PROJECT", '"$PROJECT"']],
    passThrough: ["GCE_METADATA_HOST", "STORAGE_EMULATOR_HOST"],
    storeUrl: '"$STORE_URL"',
  });
}
