/**
 * `secrets:` on GCP: the instance reads each `gcpsm:` reference at start from
 * Secret Manager with its own service account, which the infra allows exactly
 * these: `GET https://secretmanager.googleapis.com/v1/projects/P/secrets/S/versions/V:access`
 * with the metadata server's token; the answer's `payload.data` is the value,
 * base64-encoded (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access).
 * A bare `gcpsm:S` is the latest version of S in the instance's project.
 * SPOTJOB_SECRET_MANAGER_ENDPOINT points it elsewhere (tests).
 *
 * The values go into the job's environment only: never into the runtime's own
 * process.env, the status, the journal or a log, and errors name the variable
 * and the reference, never a value. A 429 or 5xx answer and a network error
 * are tried again a few times.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { JobSpec } from "../../../core/jobspec/schema";
import { gcpSecretVersionName, parseSecretReference, referenceText, secretReferences, type SecretReference } from "../../../core/jobspec/secrets";
import { apiError } from "./api-error";
import { GceMetadata } from "./metadata";

export const SECRET_MANAGER_ENDPOINT_ENV = "SPOTJOB_SECRET_MANAGER_ENDPOINT";
const DEFAULT_ENDPOINT = "https://secretmanager.googleapis.com";
const REQUEST_TIMEOUT_MS = 15_000;
const ATTEMPTS = 3;

/** A secret that could not be read: the message names the variable and the reference, never a value. */
export class GcpSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GcpSecretError";
  }
}

export interface GcpSecretOptions {
  metadata?: GceMetadata;
  endpoint?: string;
  /** Between tries of a transient failure (ms, doubled each time). */
  retryDelayMs?: number;
}

/** Reads every `gcpsm:` reference; resolves to {variable: value}, or throws GcpSecretError naming each one that failed. */
export async function fetchGcpSecrets(refs: readonly SecretReference[], o: GcpSecretOptions = {}): Promise<Record<string, string>> {
  const metadata = o.metadata ?? new GceMetadata();
  const endpoint = (o.endpoint ?? (process.env[SECRET_MANAGER_ENDPOINT_ENV] || DEFAULT_ENDPOINT)).replace(/\/+$/, "");
  let project: Promise<string> | undefined;
  const env: Record<string, string> = {};
  const failures: string[] = [];
  for (const r of refs) {
    try {
      if (r.kind !== "gcpsm") throw new Error(`${referenceText(r)} is read on AWS instances; a GCP instance reads \`gcpsm:\` references (Secret Manager)`);
      // Only a bare secret id needs the project: asked once, when first needed.
      const name = r.ref.startsWith("projects/") ? r.ref : gcpSecretVersionName(r.ref, await (project ??= metadata.projectId()));
      env[r.env] = await accessVersion(endpoint, name, metadata, o.retryDelayMs ?? 500);
    } catch (e) {
      failures.push(`${r.env} (${referenceText(r)}): ${(e as Error).message}`);
    }
  }
  if (failures.length) throw new GcpSecretError(`cannot read ${failures.length === 1 ? "secret" : `${failures.length} secrets`} ${failures.join("; ")}`);
  return env;
}

async function accessVersion(endpoint: string, name: string, metadata: GceMetadata, retryDelayMs: number): Promise<string> {
  const secret = name.split("/versions/")[0];
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      const token = await metadata.accessToken();
      response = await fetch(`${endpoint}/v1/${name}:access`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
      if (attempt < ATTEMPTS) {
        await sleep(retryDelayMs * 2 ** (attempt - 1));
        continue;
      }
      throw new Error(`Secret Manager did not answer: ${(e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message}`);
    }
    if ((response.status === 429 || response.status >= 500) && attempt < ATTEMPTS) {
      await response.body?.cancel();
      await sleep(retryDelayMs * 2 ** (attempt - 1));
      continue;
    }
    if (response.status === 404) {
      await response.body?.cancel();
      throw new Error(`${name} does not exist (HTTP 404): create the secret and a version (\`gcloud secrets create ${secret.split("/").pop()} --data-file=-\`), or fix the reference`);
    }
    if (!response.ok) throw new Error(await apiError(response, (status) => (status === 403 ? `the instance's service account needs roles/secretmanager.secretAccessor on ${secret}` : undefined)));
    const body = (await response.json().catch(() => undefined)) as { payload?: { data?: unknown } } | undefined;
    const data = body?.payload?.data;
    if (typeof data !== "string") throw new Error("Secret Manager's answer has no payload.data");
    return decodeText(data);
  }
}

/** The value as environment text: valid UTF-8, no NUL (an environment variable cannot hold one). */
function decodeText(base64: string): string {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(base64, "base64"));
  } catch {
    throw new Error("the secret is binary, not UTF-8 text: only text can go into the environment");
  }
  if (text.includes("\0")) throw new Error("the secret holds a NUL byte: only text can go into the environment");
  return text;
}

/**
 * The reader of a job's secrets, as runJob takes it (undefined: the spec has
 * none). A reference that does not parse fails the boot too: a resolved spec
 * given as JSON was not validated here.
 */
export function gcpSecretsReader(spec: Pick<JobSpec, "secrets">, o?: GcpSecretOptions): (() => Promise<Record<string, string>>) | undefined {
  const entries = Object.entries(spec.secrets ?? {});
  if (entries.length === 0) return undefined;
  return async () => {
    const invalid = entries.filter(([env, text]) => !parseSecretReference(text, env).ok).map(([env]) => env);
    if (invalid.length) throw new GcpSecretError(`invalid secret reference for ${invalid.join(", ")} (check the spec with \`spotjob plan\`)`);
    return fetchGcpSecrets(secretReferences(spec), o);
  };
}
