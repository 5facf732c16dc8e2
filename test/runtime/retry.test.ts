/** Which store errors are worth another attempt: transient ones only, whatever SDK spells them. */
import { describe, expect, it } from "vitest";
import { isTransient } from "../../runtime/store/retry";

const named = (name: string, extra: object = {}) => Object.assign(new Error(name), { name, ...extra });

describe("isTransient", () => {
  it.each([
    ["S3 503 SlowDown", named("SlowDown", { $metadata: { httpStatusCode: 503 } }), true],
    ["S3 500 InternalError", named("InternalError", { $metadata: { httpStatusCode: 500 } }), true],
    ["S3 BadDigest (a body corrupted in transit, refused by its checksum)", named("BadDigest", { $metadata: { httpStatusCode: 400 } }), true],
    ["S3 checksum mismatch on a header-declared checksum", named("XAmzContentChecksumMismatch", { $metadata: { httpStatusCode: 400 } }), true],
    ["S3 payload hash mismatch (the signed SHA-256 of the body)", named("XAmzContentSHA256Mismatch", { $metadata: { httpStatusCode: 400 } }), true],
    ["S3 412 PreconditionFailed", named("PreconditionFailed", { $metadata: { httpStatusCode: 412 } }), false],
    ["S3 403 AccessDenied", named("AccessDenied", { $metadata: { httpStatusCode: 403 } }), false],
    ["S3 404 NoSuchBucket", named("NoSuchBucket", { $metadata: { httpStatusCode: 404 } }), false],
    ["GCS 429", Object.assign(new Error("rate"), { code: 429 }), true],
    ["GCS 503", Object.assign(new Error("unavailable"), { code: 503 }), true],
    ["GCS 412", Object.assign(new Error("precondition"), { code: 412 }), false],
    ["GCS 400", Object.assign(new Error("bad request"), { code: 400 }), false],
    ["a reset connection", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), true],
    ["a request timeout", Object.assign(new Error("no answer"), { code: "ETIMEDOUT" }), true],
    ["an aborted request", named("AbortError"), true],
    ["an upload flagged for another try", Object.assign(new Error("stored 3 bytes of 4"), { $retryable: true }), true],
    ["a transient cause under a wrapper", new Error("wrapped", { cause: Object.assign(new Error("x"), { code: "EPIPE" }) }), true],
    ["a programming error", new TypeError("x is not a function"), false],
  ])("%s -> %s", (_what, error, expected) => {
    expect(isTransient(error)).toBe(expected);
  });
});
