/**
 * Transient store errors (5xx, throttling, resets, timeouts) are retried with
 * capped exponential backoff and full jitter; anything else (403, a missing
 * bucket, no region or credentials, a filesystem error) fails at once.
 *
 * The bound: with DEFAULT_RETRY a call makes at most 8 attempts and waits at
 * most 11.3 s between them in all (100 ms doubling, capped at 5 s, times a
 * random 0-1). Each attempt has its own deadline (requestTimeoutMs, 15 s,
 * plus a second per 2 MiB of body). So a store that refuses connections or
 * whose name does not resolve is reported within about 12 s (6 s on
 * average), one that drops packets within 8 deadlines plus 11.3 s; the error
 * then says how many attempts were made over how long (`GaveUp`). Nothing
 * else in the runtime retries a store call in a loop of its own.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseMs: 100, maxMs: 5000 };

// BadDigest / XAmzContentChecksumMismatch / XAmzContentSHA256Mismatch: S3 refused a body corrupted in transit.
const TRANSIENT_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "TimeoutError", "RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable", "ThrottlingException", "BadDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch"]);

export function isTransient(e: unknown): boolean {
  const err = e as { code?: string | number; name?: string; type?: string; status?: number; statusCode?: number; $metadata?: { httpStatusCode?: number }; $retryable?: unknown; cause?: unknown };
  // SDKs spell the HTTP status differently: $metadata (AWS), numeric `code` (GCS), status/statusCode (fetch, gaxios).
  const status = err?.$metadata?.httpStatusCode ?? err?.status ?? err?.statusCode ?? (typeof err?.code === "number" ? err.code : undefined);
  if (typeof status === "number" && (status >= 500 || status === 429 || status === 408)) return true;
  if (err?.$retryable) return true;
  if (TRANSIENT_CODES.has(String(err?.code)) || TRANSIENT_CODES.has(String(err?.name))) return true;
  if (err?.name === "AbortError") return true;
  // node-fetch (under the GCS client) reports timeouts and socket errors by `type`.
  if (err?.type === "request-timeout" || err?.type === "system") return true;
  return err?.cause !== undefined && err.cause !== e ? isTransient(err.cause) : false;
}

/** A transient error that lasted through every attempt: `cause` is the last one. */
export class GaveUp extends Error {
  constructor(
    readonly attempts: number,
    readonly elapsedMs: number,
    readonly last: unknown,
  ) {
    super(`${(last as Error)?.message ?? String(last)} (${attempts} attempts over ${(elapsedMs / 1000).toFixed(1)} s)`, { cause: last });
    this.name = "GaveUp";
  }

  /** e.g. "8 attempts over 9.4 s". */
  get tried(): string {
    return `${this.attempts} attempt${this.attempts === 1 ? "" : "s"} over ${(this.elapsedMs / 1000).toFixed(1)} s`;
  }
}

/**
 * Runs `fn` until it succeeds, fails permanently (that error is thrown as it
 * is), or runs out of attempts on a transient error (thrown as `GaveUp`);
 * `fn` learns which attempt it is.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!isTransient(e)) throw e;
      if (attempt >= policy.attempts) throw new GaveUp(attempt, Date.now() - started, e);
      const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      await sleep(Math.random() * cap);
    }
  }
}

/** Per-request timeout of remote stores; SPOTJOB_STORE_TIMEOUT_MS shortens it for fault-injection tests. */
export function requestTimeoutMs(): number {
  const configured = Number(process.env.SPOTJOB_STORE_TIMEOUT_MS);
  return Number.isFinite(configured) && configured > 0 ? configured : 15_000;
}
