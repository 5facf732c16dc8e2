/**
 * A durable store of small objects, chosen by URL: a local directory,
 * s3://bucket/prefix, gs://bucket/prefix, or (read-only) http(s)://.
 * Everything two writers could race on goes through a conditional put.
 */
import type { FileDigest } from "./transfer";

export interface StoredObject {
  body: Buffer;
  /** Opaque version for compare-and-swap: ETag, GCS generation, or content hash. */
  version: string;
}

export interface PutCondition {
  /** Create only: fail if the object exists. */
  ifAbsent?: boolean;
  /** Compare-and-swap: fail unless the object is at this version. */
  ifVersion?: string;
  /**
   * The body's SHA-256 (hex), when the caller has it (content-addressed
   * blobs): a store checks the upload against it instead of hashing the body
   * again (S3 verifies it server-side), and every reader checks it anyway.
   */
  sha256?: string;
}

export interface Store {
  /** The URL this store was opened from (no credentials in it). */
  readonly url: string;
  get(key: string): Promise<StoredObject | undefined>;
  /**
   * Streams a file of any size from disk into the store (memory does not
   * grow with its size). The file must not change meanwhile (callers check
   * its stat around the call); `digest` is what `digestFile` found in it.
   */
  putFile(key: string, file: string, digest: FileDigest, condition?: { ifAbsent?: boolean }): Promise<{ version: string }>;
  /** Streams an object into `file` (created or truncated, fsynced); false when there is no such object. */
  getToFile(key: string, file: string): Promise<boolean>;
  /** Atomic: readers see the old object or the new one, never a mix. */
  put(key: string, body: Buffer | string, condition?: PutCondition): Promise<{ version: string }>;
  /** Keys under `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}

/** A conditional put lost: someone else created or changed the object first. */
export class PreconditionFailed extends Error {
  constructor(
    readonly store: string,
    readonly key: string,
  ) {
    super(`${store}: ${key} was changed by another writer`);
    this.name = "PreconditionFailed";
  }
}

/** The store could not be reached or refused the request, after retries. */
export class StoreUnavailable extends Error {
  constructor(
    readonly store: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${store}: ${message}`, options);
    this.name = "StoreUnavailable";
  }
}
