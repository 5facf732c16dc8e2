/**
 * Transient store errors (5xx, throttling, resets, timeouts) are retried with
 * capped exponential backoff and full jitter; anything else fails at once.
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

/** Runs `fn` until it succeeds, fails permanently, or runs out of attempts; `fn` learns which attempt it is. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= policy.attempts || !isTransient(e)) throw e;
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
