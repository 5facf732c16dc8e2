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
  /**
   * The folders directly under `prefix` (empty, or ending in `/`): the first segment of each key below it that has a
   * further `/`, each once, sorted. One delimiter listing on S3 and GCS, however many keys the folders hold; a local
   * directory may also name an empty folder.
   */
  listFolders(prefix: string): Promise<string[]>;
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
    super(`store ${store}: ${message}`, options);
    this.name = "StoreUnavailable";
  }
}

/**
 * Why a store could not be used. Each kind has its own fix (see
 * `problems.ts`); only `unreachable` and `unavailable` are retried (within
 * `retry.ts`'s bound) and may work when run again, the others fail at once.
 */
export type StoreProblem =
  /** S3: no region configured (AWS_REGION, AWS_DEFAULT_REGION, a profile's region). */
  | "no-region"
  /** No credentials found at all. */
  | "no-credentials"
  /** Credentials found but refused: unknown key, bad signature, expired token. */
  | "credentials-refused"
  /** The identity may not do this (HTTP 403). */
  | "access-denied"
  | "no-bucket"
  /** No connection (refused, no such host, timed out), after every attempt. */
  | "unreachable"
  /** The service kept failing (5xx, throttling), after every attempt. */
  | "unavailable"
  /** A directory store that cannot be written: permissions, a read-only filesystem, /proc. */
  | "unwritable"
  | "unreadable"
  /** A directory store whose path, or a folder on it, is a file. */
  | "not-a-directory"
  /** A directory store under a symbolic link to nowhere. */
  | "not-found-path"
  | "no-space"
  /** Writing to an http(s):// store, which can only be resumed from. */
  | "read-only"
  /** A store URL that names no store (no bucket, an unknown scheme). */
  | "bad-url"
  /** Anything else: said as the service or the system said it. */
  | "failed";

/**
 * A store that could not be used, said for a person: the store, what failed
 * (the operation and the key or path), why, and what to do about it. The CLI
 * and the runtime print the message alone (no stack) and exit with their
 * store status.
 */
export class StoreError extends StoreUnavailable {
  constructor(
    store: string,
    readonly kind: StoreProblem,
    /** What went wrong, e.g. "the bucket b does not exist (NoSuchBucket on get status.json)". */
    readonly problem: string,
    /** What to do, e.g. "create it with `aws s3 mb s3://b` or fix --store"; none when there is nothing to suggest. */
    readonly fix?: string,
    options?: { cause?: unknown },
  ) {
    super(store, fix ? `${problem}; ${fix}` : problem, options);
    this.name = "StoreError";
  }

  /** Whether running again later may work without changing anything (the network or the service came back). */
  get transient(): boolean {
    return this.kind === "unreachable" || this.kind === "unavailable";
  }
}
