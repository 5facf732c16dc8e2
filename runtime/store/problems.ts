/**
 * What went wrong with a store, said for a person: an SDK's or the system's
 * error becomes a StoreError that names the store, the operation and its key
 * or path, the cause as the service or the system spelled it, and the fix.
 * No SDK is imported here: errors are recognised by their names and codes.
 */
import { promises as fs } from "node:fs";
import { dirname, resolve } from "node:path";
import { GaveUp } from "./retry";
import { StoreError } from "./store";

interface ErrorLike {
  name?: string;
  message?: string;
  code?: unknown;
  type?: string;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** Failures where no answer came (as opposed to an answer that said no): the store is unreachable from here. */
const NO_ANSWER = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "TimeoutError", "AbortError"]);

/** The network code behind an error (its own, or its causes'), if it is one. */
function noAnswerCode(e: unknown, depth = 0): string | undefined {
  const err = e as ErrorLike | undefined;
  if (!err || depth > 5) return undefined;
  for (const c of [err.code, err.name]) if (typeof c === "string" && NO_ANSWER.has(c)) return c;
  if (err.type === "request-timeout") return "timeout";
  return err.cause !== e ? noAnswerCode(err.cause, depth + 1) : undefined;
}

/** The first line of an error's message, without a trailing period. */
function said(e: unknown): string {
  const message = (e as ErrorLike)?.message ?? String(e);
  return message.split("\n")[0].replace(/\.\s*$/, "");
}

/**
 * A transient failure that lasted through every attempt (see `retry.ts`):
 * unreachable when no answer came, unavailable when the service kept failing.
 */
function gaveUp(store: string, what: string, e: GaveUp, service: string, endpoint: string | undefined): StoreError {
  const network = noAnswerCode(e.last);
  if (network) {
    return new StoreError(store, "unreachable", `could not reach ${endpoint ?? service} (${network} on ${what}; ${e.tried}: ${said(e.last)})`, `check the network${endpoint ? ` and that ${endpoint} is the right endpoint` : ""}, then run again`, { cause: e });
  }
  return new StoreError(store, "unavailable", `${service} kept failing (${tokenOf(e.last)} on ${what}; ${e.tried}: ${said(e.last)})`, "try again later", { cause: e });
}

/** How an error names itself: an S3 error code, an HTTP status, an errno. */
function tokenOf(e: unknown): string {
  const err = e as ErrorLike;
  const status = err?.$metadata?.httpStatusCode ?? (typeof err?.code === "number" ? err.code : undefined);
  if (err?.name && err.name !== "Error") return status ? `${err.name} (HTTP ${status})` : err.name;
  if (typeof err?.code === "string") return err.code;
  return status ? `HTTP ${status}` : "an error";
}

export interface S3Failure {
  store: string;
  bucket: string;
  prefix: string;
  /** The operation and its key, e.g. "get status.json". */
  what: string;
  error: unknown;
  /** The client's region, where it has one (for `aws s3 mb`). */
  region?: string;
  /** A custom endpoint (AWS_ENDPOINT_URL_S3), where one is set. */
  endpoint?: string;
  /** A HEAD (no body to say NoSuchBucket) found nothing and a check of the bucket found no bucket. */
  bucketMissing?: boolean;
}

const S3_CREDENTIALS_REFUSED = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"]);

/** The IAM action a failed S3 operation needed, for an access-denied fix. */
function s3Action(what: string): string {
  const verb = what.split(" ")[0];
  if (verb === "get" || verb === "head") return "s3:GetObject";
  if (verb === "list") return what.startsWith("list uploads") || what.startsWith("list the parts") ? "s3:ListBucketMultipartUploads" : "s3:ListBucket";
  if (verb === "delete") return "s3:DeleteObject";
  if (verb === "abort") return "s3:AbortMultipartUpload";
  return "s3:PutObject";
}

export function s3Problem(f: S3Failure): StoreError {
  const { store, bucket, what, error } = f;
  if (error instanceof GaveUp) return gaveUp(store, what, error, "S3", f.endpoint);
  const err = error as ErrorLike;
  const status = err?.$metadata?.httpStatusCode;
  if (err?.name === "NoSuchBucket" || f.bucketMissing) {
    return new StoreError(store, "no-bucket", `the bucket ${bucket} does not exist (${err?.name === "NoSuchBucket" ? "NoSuchBucket" : "404"} on ${what})`, `create it with \`aws s3 mb s3://${bucket}${f.region ? ` --region ${f.region}` : ""}\` or fix --store`, { cause: error });
  }
  if (/region is missing/i.test(err?.message ?? "")) {
    return new StoreError(store, "no-region", `no AWS region is configured (Region is missing on ${what})`, "set AWS_REGION (or AWS_DEFAULT_REGION, or a region in your AWS profile: `aws configure set region us-east-1`) to the bucket's region", { cause: error });
  }
  if (err?.name === "CredentialsProviderError" || /could not load credentials/i.test(err?.message ?? "")) {
    return new StoreError(store, "no-credentials", `no AWS credentials were found (${err?.name ?? "CredentialsProviderError"} on ${what}: ${said(error)})`, "run `aws configure` (or `aws sso login`), set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; on an instance, attach a role", { cause: error });
  }
  if (err?.name && S3_CREDENTIALS_REFUSED.has(err.name)) {
    return new StoreError(store, "credentials-refused", `S3 refused the credentials (${err.name} on ${what}: ${said(error)})`, "check them with `aws sts get-caller-identity`; renew expired ones (`aws sso login`) or fix AWS_PROFILE / AWS_ACCESS_KEY_ID", { cause: error });
  }
  if (status === 403 || err?.name === "AccessDenied" || err?.name === "AllAccessDisabled") {
    const scope = `arn:aws:s3:::${bucket}${f.prefix ? `/${f.prefix}` : ""}`;
    return new StoreError(store, "access-denied", `access denied (${err?.name && err.name !== "Error" ? err.name : "HTTP 403"} on ${what})`, `allow ${s3Action(what)} on ${scope}${s3Action(what) === "s3:ListBucket" ? "" : "/*"} to the identity spotjob runs as (\`aws sts get-caller-identity\` names it), or fix --store`, { cause: error });
  }
  return new StoreError(store, "failed", `${what} failed: ${tokenOf(error)}: ${said(error)}`, undefined, { cause: error });
}

export interface GcsFailure {
  store: string;
  bucket: string;
  what: string;
  error: unknown;
  /** The JSON API's base (https://storage.googleapis.com, or an emulator's). */
  endpoint: string;
  /** A 404 came and a check of the bucket found no bucket. */
  bucketMissing?: boolean;
}

export function gcsProblem(f: GcsFailure): StoreError {
  const { store, bucket, what, error } = f;
  const custom = f.endpoint.replace(/\/$/, "") !== "https://storage.googleapis.com" ? f.endpoint : undefined;
  if (error instanceof GaveUp) return gaveUp(store, what, error, "GCS", custom ?? f.endpoint);
  const err = error as ErrorLike;
  const status = typeof err?.code === "number" ? err.code : undefined;
  if (f.bucketMissing) {
    return new StoreError(store, "no-bucket", `the bucket ${bucket} does not exist (HTTP 404 on ${what})`, `create it with \`gcloud storage buckets create gs://${bucket}\` or fix --store`, { cause: error });
  }
  if (/could not load the default credentials/i.test(err?.message ?? "")) {
    return new StoreError(store, "no-credentials", `no Google Cloud credentials were found (on ${what})`, "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file; on a VM, attach a service account", { cause: error });
  }
  if (status === 401) {
    return new StoreError(store, "credentials-refused", `GCS refused the credentials (HTTP 401 on ${what}: ${said(error)})`, "renew them with `gcloud auth application-default login`, or check GOOGLE_APPLICATION_CREDENTIALS", { cause: error });
  }
  if (status === 403) {
    return new StoreError(store, "access-denied", `access denied (HTTP 403 on ${what}: ${said(error)})`, `grant roles/storage.objectAdmin on gs://${bucket} to the identity spotjob runs as (\`gcloud auth list\` names it), or fix --store`, { cause: error });
  }
  return new StoreError(store, "failed", `${what} failed: ${status !== undefined ? `HTTP ${status} ` : typeof err?.code === "string" ? `${err.code} ` : ""}${said(error) || "no response"}`, undefined, { cause: error });
}

/** An http(s):// source (resume_from) that could not be read. */
export function httpProblem(store: string, what: string, error: unknown): StoreError {
  if (error instanceof GaveUp) return gaveUp(store, what, error, "the server", new URL(store).origin);
  const status = (error as { status?: number })?.status;
  if (status === 401 || status === 403) {
    return new StoreError(store, "access-denied", `the server refused (HTTP ${status} on ${what})`, "a presigned URL may have expired: make a new one; or check the URL", { cause: error });
  }
  return new StoreError(store, "failed", `${what} failed: ${said(error)}`, undefined, { cause: error });
}

/** Writing to an http(s):// store. */
export function readOnly(store: string, what: string): StoreError {
  return new StoreError(store, "read-only", `${store} is read-only: http(s) URLs can only be resumed from (on ${what})`, "give a directory, s3:// or gs:// store to write to");
}

/**
 * A directory store's failure on one of its own files (`path`), explained:
 * which directory cannot be written and why, which "directory" is a file,
 * which link leads nowhere. `access`: whether the operation reads or writes.
 */
export async function localProblem(store: string, what: string, access: "read" | "write", e: NodeJS.ErrnoException, path: string): Promise<StoreError> {
  const code = e.code ?? "";
  const on = `${code} on ${what}`;
  const options = { cause: e };
  if (code === "EACCES" || code === "EPERM") {
    const where = access === "write" && e.syscall !== "readdir" ? await nearestExisting(dirname(path)) : path;
    // EACCES: the mode bits, which the owner can change; EPERM: the filesystem itself refuses (sysfs, an immutable file).
    const change = code === "EACCES" ? `make it ${access === "write" ? "writable" : "readable"} by this user (\`chmod u+${access === "write" ? "w" : "r"} ${where}\`, or chown it) or ` : "";
    if (access === "write") return new StoreError(store, "unwritable", `cannot write in ${where}: permission denied (${on})`, `${change}choose another directory with --store`, options);
    return new StoreError(store, "unreadable", `cannot read ${where}: permission denied (${on})`, `${change}choose another directory with --store`, options);
  }
  if (code === "EROFS") {
    return new StoreError(store, "unwritable", `cannot write in ${await nearestExisting(dirname(path))}: it is on a read-only filesystem (${on})`, "choose a writable directory with --store", options);
  }
  if (code === "ENOTDIR" || code === "EEXIST") {
    const file = await firstNonDirectory(path);
    return new StoreError(store, "not-a-directory", `${file ?? path} is a file, not a directory (${on})`, `move it away, or choose another directory with --store`, options);
  }
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new StoreError(store, "no-space", `the filesystem of ${await nearestExisting(path)} is full (${on})`, "free some space, or choose another directory with --store", options);
  }
  if (code === "ENOENT" || code === "ELOOP") {
    const link = await brokenLink(path);
    if (link) return new StoreError(store, "not-found-path", `${link.path} is a symbolic link to ${link.target}, which does not exist (${on})`, `create ${link.target}, or choose another directory with --store`, options);
    if (e.syscall === "mkdir") {
      // mkdir said "no such entry" under a parent that exists: a filesystem that holds no directories of ours.
      const parent = dirname(path);
      return new StoreError(store, "unwritable", `cannot create ${path}: ${parent} exists but takes no new directories (${on}; a virtual filesystem such as /proc or /sys)`, "choose a directory on a real filesystem with --store", options);
    }
  }
  return new StoreError(store, "failed", `${what} failed: ${e.message}`, undefined, options);
}

/** `path`, or its nearest ancestor that exists. */
async function nearestExisting(path: string): Promise<string> {
  for (let p = resolve(path); ; p = dirname(p)) {
    if (await fs.lstat(p).then(() => true, () => false)) return p;
    if (dirname(p) === p) return p;
  }
}

/** The first component of `path`, from the root down, that exists and is not a directory (a file where a folder should be). */
async function firstNonDirectory(path: string): Promise<string | undefined> {
  const parts: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    parts.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of parts) {
    const st = await fs.stat(p).catch(() => undefined);
    if (!st) return undefined;
    if (!st.isDirectory()) return p;
  }
  return undefined;
}

/** A symbolic link on `path` (itself or a folder above it) whose target does not exist. */
async function brokenLink(path: string): Promise<{ path: string; target: string } | undefined> {
  for (let p = resolve(path); dirname(p) !== p; p = dirname(p)) {
    const st = await fs.lstat(p).catch(() => undefined);
    if (!st?.isSymbolicLink()) continue;
    if (await fs.stat(p).then(() => false, () => true)) return { path: p, target: await fs.readlink(p) };
  }
  return undefined;
}
