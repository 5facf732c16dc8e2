/**
 * gs://bucket/prefix through the Google Cloud Storage client, with generation
 * preconditions. Large content-addressed blobs go as single-request media
 * uploads (see `gcs-media-upload`) with the client's endpoint and credentials.
 */
import { Storage, type Bucket } from "@google-cloud/storage";
import { createHash } from "node:crypto";
import { PreconditionFailed, StoreUnavailable, type PutCondition, type Store, type StoredObject } from "./store";
import { DEFAULT_RETRY, requestTimeoutMs, withRetry, type RetryPolicy } from "./retry";
import { mediaUpload } from "./gcs-media-upload";

export interface GcsStoreOptions {
  storage?: Storage;
  retry?: RetryPolicy;
}

export class GcsStore implements Store {
  readonly url: string;
  private readonly storage: Storage;
  private readonly bucketRef: Bucket;
  private readonly retry: RetryPolicy;

  constructor(
    readonly bucket: string,
    readonly prefix: string,
    options: GcsStoreOptions = {},
  ) {
    this.url = `gs://${bucket}${prefix ? `/${prefix}` : ""}`;
    this.retry = options.retry ?? DEFAULT_RETRY;
    const storage = options.storage ?? new Storage({ retryOptions: { autoRetry: false }, timeout: requestTimeoutMs() });
    // With STORAGE_EMULATOR_HOST (fake-gcs-server) the client takes the variable verbatim as its
    // JSON API base but builds upload URLs from apiEndpoint: make the two agree.
    const emulator = process.env.STORAGE_EMULATOR_HOST?.replace(/\/storage\/v1\/?$/, "").replace(/\/$/, "");
    if (emulator && !options.storage) {
      storage.apiEndpoint = emulator;
      storage.baseUrl = `${emulator}/storage/v1`;
    }
    this.storage = storage;
    this.bucketRef = storage.bucket(bucket);
  }

  /** The client's credentials for a request of our own; none for an emulator, as the client itself does. */
  private async authHeaders(): Promise<Record<string, string>> {
    if (this.storage.customEndpoint && !this.storage.useAuthWithCustomEndpoint) return {};
    const headers: unknown = await this.storage.authClient.getRequestHeaders();
    // A plain object in google-auth-library 9, a fetch Headers from 10 on.
    return headers instanceof Headers ? Object.fromEntries(headers.entries()) : (headers as Record<string, string>);
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private async call<T>(what: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    try {
      return await withRetry(fn, this.retry);
    } catch (e) {
      if (e instanceof PreconditionFailed) throw e;
      const err = e as { code?: unknown; message?: string };
      throw new StoreUnavailable(this.url, `${what} failed: ${err.code !== undefined ? `HTTP ${String(err.code)} ` : ""}${err.message || "no response"}`, { cause: e });
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    return this.call(`get ${key}`, async () => {
      try {
        const [metadata] = await this.bucketRef.file(this.key(key)).getMetadata();
        const generation = String(metadata.generation);
        // Download exactly the generation we saw, so body and version agree.
        const [body] = await this.bucketRef.file(this.key(key), { generation }).download();
        return { body, version: generation };
      } catch (e) {
        if (code(e) === 404) return undefined;
        throw e;
      }
    });
  }

  async put(key: string, body: Buffer | string, condition: PutCondition = {}): Promise<{ version: string }> {
    const data = typeof body === "string" ? Buffer.from(body) : body;
    const ifGenerationMatch = condition.ifAbsent ? 0 : condition.ifVersion !== undefined ? Number(condition.ifVersion) : undefined;
    return this.call(`put ${key}`, async (attempt) => {
      try {
        return condition.sha256 ? await this.putBlob(key, data, ifGenerationMatch) : await this.putChecked(key, data, ifGenerationMatch);
      } catch (e) {
        if (code(e) === 412) {
          if (attempt > 1 && condition.ifAbsent) {
            const current = await this.get(key);
            if (current?.body.equals(data)) return { version: current.version };
          }
          throw new PreconditionFailed(this.url, key);
        }
        throw e;
      }
    });
  }

  /**
   * A control object (journal segment, manifest, lease, status), small: sent
   * with its MD5 in the object's metadata, which GCS checks before it commits
   * the write, so a body corrupted on the way is refused, never stored.
   */
  private async putChecked(key: string, data: Buffer, ifGenerationMatch: number | undefined): Promise<{ version: string }> {
    const file = this.bucketRef.file(this.key(key));
    try {
      await file.save(data, {
        resumable: false,
        validation: false,
        metadata: { md5Hash: createHash("md5").update(data).digest("base64") },
        preconditionOpts: ifGenerationMatch !== undefined ? { ifGenerationMatch } : undefined,
      });
    } catch (e) {
      // Refused for not matching its checksum: damaged in transit, worth sending again.
      if (code(e) === 400 && /md5/i.test((e as Error).message)) Object.assign(e as object, { $retryable: true });
      throw e;
    }
    return { version: String(file.metadata.generation ?? "") };
  }

  /**
   * A content-addressed blob, up to a large checkpoint: one media upload (the
   * fast path, see `gcs-media-upload`) with no second hash on the flush's
   * critical path. GCS cannot check a SHA-256; the stored size is checked here
   * and the hash, the blob's name, by every reader.
   */
  private async putBlob(key: string, data: Buffer, ifGenerationMatch: number | undefined): Promise<{ version: string }> {
    const stored = await mediaUpload({
      endpoint: this.storage.apiEndpoint,
      bucket: this.bucket,
      name: this.key(key),
      body: data,
      ifGenerationMatch,
      headers: await this.authHeaders(),
      timeoutMs: requestTimeoutMs(),
    });
    if (stored.size !== data.length) {
      // Not left for a create-only retry to mistake for our own copy.
      await this.bucketRef.file(this.key(key)).delete({ ifGenerationMatch: stored.generation }).catch(() => undefined);
      throw Object.assign(new Error(`stored ${stored.size} bytes of ${data.length}`), { $retryable: true });
    }
    return { version: stored.generation };
  }

  async list(prefix: string): Promise<string[]> {
    return this.call(`list ${prefix}`, async () => {
      const [files] = await this.bucketRef.getFiles({ prefix: this.key(prefix), autoPaginate: true });
      return files.map((f) => (this.prefix ? f.name.slice(this.prefix.length + 1) : f.name)).sort();
    });
  }

  async delete(key: string): Promise<void> {
    await this.call(`delete ${key}`, async () => {
      try {
        await this.bucketRef.file(this.key(key)).delete();
      } catch (e) {
        if (code(e) !== 404) throw e;
      }
    });
  }
}

function code(e: unknown): number | undefined {
  const c = (e as { code?: unknown })?.code;
  return typeof c === "number" ? c : undefined;
}
