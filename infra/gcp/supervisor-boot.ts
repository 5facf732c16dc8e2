/**
 * How the supervisor's Cloud Run job gets its code: a public Node.js image
 * runs this fixed program (`node -e`), which downloads the job's own
 * runtime bundle from the bucket with the job's service-account token and
 * runs `node runtime.cjs supervise` with the container's environment
 * (SPOTJOB_SUPERVISOR among it), exiting with its status. No image to build
 * or push, and the supervisor always runs the runtime the VM runs. Node.js
 * has fetch, so neither curl nor gcloud is needed (slim images have neither).
 *
 * Protocol facts (the same as the startup script's, infra/gcp/startup-script.ts):
 * - token: GET http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token
 *   with `Metadata-Flavor: Google` answers `{"access_token", "expires_in", "token_type"}`; Cloud Run serves
 *   it as Compute Engine does (https://cloud.google.com/run/docs/container-contract#metadata-server).
 *   GCE_METADATA_HOST replaces the host, as Google's client libraries read it.
 * - object: GET https://storage.googleapis.com/storage/v1/b/BUCKET/o/OBJECT?alt=media with
 *   `Authorization: Bearer TOKEN`, the object name percent-encoded as one path segment
 *   (https://cloud.google.com/storage/docs/request-endpoints#encoding); STORAGE_EMULATOR_HOST
 *   replaces the endpoint (with or without /storage/v1).
 * Its inputs are environment variables, never text spliced into the program.
 */

/** The container image: Node.js 24 (the runtime bundle's target), Debian slim, from Docker Hub (Cloud Run pulls public Docker Hub images). */
export const SUPERVISOR_IMAGE = "docker.io/library/node:24-slim";

/** The bucket and object name of the runtime bundle. */
export const RUNTIME_BUCKET_ENV = "SPOTJOB_RUNTIME_BUCKET";
export const RUNTIME_OBJECT_ENV = "SPOTJOB_RUNTIME_OBJECT";


export const SUPERVISOR_BOOT = [
  '"use strict";',
  'const fs = require("fs"), os = require("os"), path = require("path"), { spawnSync } = require("child_process");',
  // The temporary directory: /tmp in the container (Cloud Run's is an in-memory file system), TMPDIR where one is set.
  'const bundle = path.join(os.tmpdir(), "spotjob-runtime.cjs");',
  `const bucket = process.env.${RUNTIME_BUCKET_ENV}, object = process.env.${RUNTIME_OBJECT_ENV};`,
  `if (!bucket || !object) { console.error("spotjob supervisor: ${RUNTIME_BUCKET_ENV} and ${RUNTIME_OBJECT_ENV} must be set (the spotjob Pulumi program sets them)"); process.exit(2); }`,
  'const metadata = "http://" + (process.env.GCE_METADATA_HOST || "metadata.google.internal") + "/computeMetadata/v1";',
  'const storage = (process.env.STORAGE_EMULATOR_HOST || "https://storage.googleapis.com").replace(/\\/+$/, "").replace(/\\/storage\\/v1$/, "");',
  "(async () => {",
  '  const tokenResponse = await fetch(metadata + "/instance/service-accounts/default/token", { headers: { "Metadata-Flavor": "Google" }, signal: AbortSignal.timeout(10000) });',
  '  if (!tokenResponse.ok) throw new Error("the metadata server answered HTTP " + tokenResponse.status + " for the service account token");',
  "  const token = (await tokenResponse.json()).access_token;",
  '  if (typeof token !== "string" || token === "") throw new Error("the metadata server sent no access token");',
  '  const url = storage + "/storage/v1/b/" + encodeURIComponent(bucket) + "/o/" + encodeURIComponent(object) + "?alt=media";',
  '  const response = await fetch(url, { headers: { Authorization: "Bearer " + token }, signal: AbortSignal.timeout(30000) });',
  '  if (!response.ok) throw new Error("gs://" + bucket + "/" + object + ": HTTP " + response.status + " " + (await response.text()).slice(0, 300));',
  "  fs.writeFileSync(bundle, Buffer.from(await response.arrayBuffer()));",
  '  const run = spawnSync(process.execPath, [bundle, "supervise"], { stdio: "inherit" });',
  "  process.exit(run.status === null ? 1 : run.status);",
  '})().catch((e) => { console.error("spotjob supervisor: could not fetch the runtime: " + e.message); process.exit(1); });',
].join("\n");
