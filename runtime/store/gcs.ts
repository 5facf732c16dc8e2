/** gs://bucket/prefix through the Google Cloud Storage client, with generation preconditions. */
import { Storage, type Bucket } from "@google-cloud/storage";
import { PreconditionFailed, StoreUnavailable, type PutCondition, type Store, type StoredObject } from "./store";
import { DEFAULT_RETRY, requestTimeoutMs, withRetry, type RetryPolicy } from "./retry";

export interface GcsStoreOptions {
  storage?: Storage;
  retry?: RetryPolicy;
}

export class GcsStore implements Store {
  readonly url: string;
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
    this.bucketRef = storage.bucket(bucket);
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
      const file = this.bucketRef.file(this.key(key));
      try {
        // GCS cannot check a SHA-256: for a blob named by its hash (checked by every reader) the client's MD5 pass,
        // a second full hash on the flush's critical path, is skipped and the stored size is checked instead.
        await file.save(data, { resumable: false, validation: condition.sha256 ? false : "md5", preconditionOpts: ifGenerationMatch !== undefined ? { ifGenerationMatch } : undefined });
        if (condition.sha256 && Number(file.metadata.size) !== data.length) {
          // Not left for a create-only retry to mistake for our own copy.
          await file.delete({ ifGenerationMatch: file.metadata.generation }).catch(() => undefined);
          throw Object.assign(new Error(`stored ${String(file.metadata.size)} bytes of ${data.length}`), { $retryable: true });
        }
        return { version: String(file.metadata.generation ?? "") };
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
