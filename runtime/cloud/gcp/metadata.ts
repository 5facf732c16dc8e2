/**
 * The GCE metadata server (https://cloud.google.com/compute/docs/metadata/querying-metadata):
 * `GET http://metadata.google.internal/computeMetadata/v1/<path>` with the
 * header `Metadata-Flavor: Google` (refused with 403 without it); the answer
 * carries `Metadata-Flavor: Google` and an `ETag`. `?wait_for_change=true&last_etag=E`
 * holds the request until the value's ETag is no longer E (`timeout_sec`
 * bounds the wait). GCE_METADATA_HOST (`host:port`), the variable Google's
 * client libraries honour, points it elsewhere (tests). fetch only: no SDK.
 *
 * The same server, with the same header, path and token answer, serves a Cloud
 * Run job (https://cloud.google.com/run/docs/container-contract#metadata-server),
 * so the supervisor takes its token from here too; Google's own client
 * (gcp-metadata) likewise refuses an answer without `Metadata-Flavor: Google` there.
 */
import { describeFetchError } from "./api-error";

export const METADATA_HOST_ENV = "GCE_METADATA_HOST";
const DEFAULT_HOST = "metadata.google.internal";
const BASE_PATH = "/computeMetadata/v1/";
const REQUEST_TIMEOUT_MS = 3000;
/** A token is renewed this long before it lapses. */
const TOKEN_MARGIN_MS = 60_000;

/** The metadata server's base URL: `http://` + GCE_METADATA_HOST (a scheme it names is kept), else the server's name. */
export function metadataEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const host = env[METADATA_HOST_ENV]?.trim() || DEFAULT_HOST;
  return (/^https?:\/\//.test(host) ? host : `http://${host}`).replace(/\/+$/, "");
}

export interface MetadataValue {
  value: string;
  etag: string | undefined;
}

/** A metadata request that did not get a value (an unreachable server, an HTTP error, not the metadata server). */
export class MetadataError extends Error {
  constructor(
    message: string,
    /** The HTTP status the server answered; undefined when nothing answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "MetadataError";
  }
}

export class GceMetadata {
  private token: { value: string; renewAt: number } | undefined;

  constructor(
    readonly endpoint = metadataEndpoint(),
    private readonly requestTimeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  /** The value at `path` (`instance/zone`), or undefined when the server has none (404). */
  async get(path: string, signal?: AbortSignal): Promise<MetadataValue | undefined> {
    return this.request(path, AbortSignal.any([AbortSignal.timeout(this.requestTimeoutMs), ...(signal ? [signal] : [])]));
  }

  /**
   * Long-polls `path` until its value changes from the one whose ETag is
   * `lastEtag` (or `timeoutSec` passes: the current value then). Resolves to
   * the value and its ETag; undefined when the path has no value.
   */
  async waitForChange(path: string, o: { lastEtag?: string; timeoutSec: number; signal?: AbortSignal }): Promise<MetadataValue | undefined> {
    const query = new URLSearchParams({ wait_for_change: "true", ...(o.lastEtag ? { last_etag: o.lastEtag } : {}), timeout_sec: String(o.timeoutSec) });
    // The server answers by `timeout_sec`; a connection that stays silent well past it is dead.
    const limit = AbortSignal.timeout(o.timeoutSec * 1000 + this.requestTimeoutMs + 2000);
    return this.request(`${path}?${query}`, AbortSignal.any([limit, ...(o.signal ? [o.signal] : [])]));
  }

  /** The default service account's OAuth access token, cached until shortly before it lapses. */
  async accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.renewAt) return this.token.value;
    const got = await this.get("instance/service-accounts/default/token");
    if (!got) throw new MetadataError("the instance has no default service account (instance/service-accounts/default/token is 404): give the instance the job's service account", 404);
    let parsed: { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
    try {
      parsed = JSON.parse(got.value);
    } catch {
      throw new MetadataError("the metadata server's token answer is not JSON", 200);
    }
    if (typeof parsed.access_token !== "string" || !parsed.access_token) throw new MetadataError("the metadata server's token answer has no access_token", 200);
    const expiresMs = (typeof parsed.expires_in === "number" ? parsed.expires_in : 0) * 1000;
    this.token = { value: parsed.access_token, renewAt: Date.now() + Math.max(0, expiresMs - TOKEN_MARGIN_MS) };
    return this.token.value;
  }

  /** The project the instance runs in (`project/project-id`). */
  async projectId(): Promise<string> {
    const got = await this.get("project/project-id");
    if (!got?.value.trim()) throw new MetadataError("the metadata server does not name the instance's project (project/project-id)");
    return got.value.trim();
  }

  private async request(pathAndQuery: string, signal: AbortSignal): Promise<MetadataValue | undefined> {
    const where = pathAndQuery.split("?")[0];
    let response: Response;
    try {
      response = await fetch(`${this.endpoint}${BASE_PATH}${pathAndQuery}`, { headers: { "Metadata-Flavor": "Google" }, signal });
    } catch (e) {
      if (signal.aborted && (signal.reason as Error | undefined)?.name !== "TimeoutError") throw e;
      throw new MetadataError(`metadata server ${this.endpoint}: ${where}: ${describeFetchError(e)}`);
    }
    const body = await response.text();
    // Anything else on that address (a proxy, a captive portal) is not the metadata server, whatever it answers.
    if (response.headers.get("metadata-flavor") !== "Google") throw new MetadataError(`${this.endpoint} did not answer as the GCE metadata server (no Metadata-Flavor: Google header) for ${where}`, response.status);
    if (response.status === 404) return undefined;
    if (!response.ok) throw new MetadataError(`metadata server: ${where}: HTTP ${response.status} ${body.slice(0, 200).trim()}`, response.status);
    return { value: body, etag: response.headers.get("etag") ?? undefined };
  }
}

/** Where an API client gets its bearer token: the service account the code runs as. */
export type TokenSource = () => Promise<string>;

/**
 * The default service account's token from `metadata` (cached there), as the
 * API clients take it (compute.ts). `runsAs` says where the code runs and what
 * to check there; given, it completes the message of a failure.
 * https://cloud.google.com/compute/docs/access/authenticate-workloads#applications
 */
export function metadataTokenSource(metadata: GceMetadata, runsAs?: string): TokenSource {
  return async () => {
    try {
      return await metadata.accessToken();
    } catch (e) {
      if (!runsAs || !(e instanceof MetadataError)) throw e;
      const what = e.status === undefined ? "could not reach the metadata server for an access token" : "the metadata server gave no access token";
      throw new MetadataError(`${what} (${e.message}): ${runsAs}`, e.status);
    }
  };
}
