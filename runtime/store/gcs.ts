/**
 * gs://bucket/prefix through the Google Cloud Storage client, with generation
 * preconditions. Large content-addressed blobs go as single-request media
 * uploads (see `gcs-media-upload`) with the client's endpoint and credentials.
 */
import { Storage, type Bucket, type GetFilesOptions } from "@google-cloud/storage";
import { createHash } from "node:crypto";
import { gcsProblem } from "./problems";
import { PreconditionFailed, StoreError, StoreUnavailable, type PutCondition, type Store, type StoredObject } from "./store";
import { downloadInRanges, inParallel, type FileDigest } from "./transfer";
import { DEFAULT_RETRY, requestTimeoutMs, withRetry, type RetryPolicy } from "./retry";
import { compose, downloadRange, mediaUpload, type UploadedObject } from "./gcs-media-upload";

export interface GcsStoreOptions {
  storage?: Storage;
  retry?: RetryPolicy;
  /** Sources per compose request: GCS's limit (32) unless a test wants the levels of a large file on a small one. */
  composeMax?: number;
}

export class GcsStore implements Store {
  readonly url: string;
  private readonly storage: Storage;
  private readonly bucketRef: Bucket;
  private readonly retry: RetryPolicy;
  private readonly composeMax: number;
  /** The bucket answered a request with an object or a listing: it exists (a 404 is then a missing object). */
  private bucketSeen = false;

  constructor(
    readonly bucket: string,
    readonly prefix: string,
    options: GcsStoreOptions = {},
  ) {
    this.url = `gs://${bucket}${prefix ? `/${prefix}` : ""}`;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.composeMax = options.composeMax ?? COMPOSE_MAX;
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
      if (e instanceof PreconditionFailed || e instanceof StoreError) throw e;
      // GCS answers a missing bucket with the 404 of a missing object: a 404 is checked.
      throw gcsProblem({ store: this.url, bucket: this.bucket, what, error: e, endpoint: this.storage.apiEndpoint, bucketMissing: code(e) === 404 && !(await this.bucketExists()) });
    }
  }

  /**
   * After a 404: whether the bucket exists, asked once with a listing (the
   * permission the store needs anyway). A refusal or an error leaves it
   * assumed; a definite 404 means there is no such bucket.
   */
  private async bucketExists(): Promise<boolean> {
    if (this.bucketSeen) return true;
    try {
      await this.bucketRef.getFiles({ prefix: this.key(""), maxResults: 1, autoPaginate: false });
    } catch (e) {
      if (code(e) === 404) return false;
      return true;
    }
    this.bucketSeen = true;
    return true;
  }

  /** A missing object, or (the first time) a missing bucket, which is an error. */
  private async absent(what: string, notFound: unknown): Promise<undefined> {
    if (!(await this.bucketExists())) throw gcsProblem({ store: this.url, bucket: this.bucket, what, error: notFound, endpoint: this.storage.apiEndpoint, bucketMissing: true });
    return undefined;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    let notFound: unknown;
    const got = await this.call(`get ${key}`, async () => {
      try {
        const [metadata] = await this.bucketRef.file(this.key(key)).getMetadata();
        const generation = String(metadata.generation);
        // Download exactly the generation we saw, so body and version agree.
        const [body] = await this.bucketRef.file(this.key(key), { generation }).download();
        this.bucketSeen = true;
        return { body, version: generation };
      } catch (e) {
        if (code(e) !== 404) throw e;
        notFound = e;
        return undefined;
      }
    });
    return got ?? this.absent(`get ${key}`, notFound);
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

  /**
   * A file of any size, streamed from disk. Up to one part (64 MiB): a media
   * upload. Larger: a parallel composite upload, as gcloud does for large
   * files (GCS has no multipart API; a resumable upload is one serial
   * stream): the parts go as their own objects, a few at once, each retried
   * on its own, then are composed, 32 at a time, into the object
   * (create-only with `ifGenerationMatch=0`), and deleted. A part's name
   * carries its SHA-256, so an interrupted upload's parts are reused, not
   * sent again; parts a crash leaves behind sit under `uploads/`, which the
   * bucket's lifecycle expires. The stored size is checked here, the
   * SHA-256 (the blob's name) by every reader.
   */
  async putFile(key: string, file: string, digest: FileDigest, condition: { ifAbsent?: boolean } = {}): Promise<{ version: string }> {
    const ifGenerationMatch = condition.ifAbsent ? 0 : undefined;
    let stored: UploadedObject;
    try {
      if (digest.parts.length === 1) {
        stored = await this.call(`put ${key} (${file})`, async () =>
          mediaUpload({ endpoint: this.storage.apiEndpoint, bucket: this.bucket, name: this.key(key), body: { file, size: digest.size }, ifGenerationMatch, headers: await this.authHeaders(), timeoutMs: uploadTimeoutMs(digest.size) }),
        );
      } else {
        if (condition.ifAbsent && (await this.exists(key))) throw new PreconditionFailed(this.url, key); // not worth sending again
        stored = await this.putComposite(key, file, digest, ifGenerationMatch);
      }
    } catch (e) {
      const cause = e instanceof StoreUnavailable ? (e.cause as unknown) : e;
      // The object exists (a create-only retry whose first try went through, too): the caller decides.
      if (code(cause) === 412) throw new PreconditionFailed(this.url, key);
      throw e;
    }
    if (stored.size !== digest.size) {
      await this.bucketRef.file(this.key(key)).delete({ ifGenerationMatch: stored.generation }).catch(() => undefined);
      throw new StoreUnavailable(this.url, `put ${key} (${file}): stored ${stored.size} bytes of ${digest.size}; it will be sent again`);
    }
    return { version: stored.generation };
  }

  private async putComposite(key: string, file: string, digest: FileDigest, ifGenerationMatch: number | undefined): Promise<UploadedObject> {
    const staging = this.key(`${UPLOADS}${digest.sha256}`);
    const parts = digest.parts.map((sha, i) => ({ name: `${staging}/${String(i).padStart(5, "0")}-${sha}`, start: i * digest.partSize, size: Math.min(digest.partSize, digest.size - i * digest.partSize) }));
    const made: string[] = [];
    await inParallel(parts, PARTS_AT_ONCE, async (part) => {
      made.push(part.name);
      await this.call(`put part ${part.name} (${file} bytes ${part.start}-${part.start + part.size - 1})`, async () => {
        try {
          const sent = await mediaUpload({ endpoint: this.storage.apiEndpoint, bucket: this.bucket, name: part.name, body: { file, start: part.start, size: part.size }, ifGenerationMatch: 0, headers: await this.authHeaders(), timeoutMs: uploadTimeoutMs(part.size) });
          if (sent.size !== part.size) throw Object.assign(new Error(`stored ${sent.size} bytes of ${part.size}`), { $retryable: true });
        } catch (e) {
          if (code(e) !== 412) throw e; // else sent before (its name is its hash): reused
        }
      });
    });
    // Level by level, at most 32 sources per compose, one compose at a time; only the last is create-only. GCS
    // composes without moving data; an emulator copies it, so each compose may take as long as sending its bytes.
    let sources = parts.map((p) => ({ name: p.name, size: p.size }));
    const bytes = (group: typeof sources) => group.reduce((total, p) => total + p.size, 0);
    const composeInto = async (group: typeof sources, destination: string, ifGenerationMatch?: number) =>
      this.call(`compose ${destination} from ${group.length} parts`, async () =>
        compose({ endpoint: this.storage.apiEndpoint, bucket: this.bucket, sources: group.map((p) => p.name), destination, ifGenerationMatch, headers: await this.authHeaders(), timeoutMs: uploadTimeoutMs(bytes(group)) }),
      );
    for (let level = 0; sources.length > this.composeMax; level++) {
      const next: typeof sources = [];
      for (let g = 0; g * this.composeMax < sources.length; g++) {
        const group = sources.slice(g * this.composeMax, (g + 1) * this.composeMax);
        const name = `${staging}/level-${level}-${g}`;
        made.push(name);
        await composeInto(group, name);
        next.push({ name, size: bytes(group) });
      }
      sources = next;
    }
    const stored = await composeInto(sources, this.key(key), ifGenerationMatch);
    // Done: the staging objects go. After a failure they stay for the next attempt to reuse (the lifecycle takes what
    // no attempt finishes).
    await inParallel(made, PARTS_AT_ONCE, (name) => this.bucketRef.file(name).delete().then(() => undefined, () => undefined));
    return stored;
  }

  private async exists(key: string): Promise<boolean> {
    return this.call(`stat ${key}`, async () => (await this.bucketRef.file(this.key(key)).exists())[0]);
  }

  /** Streams an object into `file`, 64 MiB ranges a few at a time, each retried on its own. */
  async getToFile(key: string, file: string): Promise<boolean> {
    let notFound: unknown;
    const metadata = await this.call(`get ${key}`, async () => {
      try {
        return (await this.bucketRef.file(this.key(key)).getMetadata())[0];
      } catch (e) {
        if (code(e) !== 404) throw e;
        notFound = e;
        return undefined;
      }
    });
    if (!metadata) return (await this.absent(`get ${key}`, notFound)) ?? false;
    this.bucketSeen = true;
    await downloadInRanges(file, Number(metadata.size), CHUNK_BYTES, async (start, end, handle) => {
      const got = await this.call(`get ${key} bytes ${start}-${end}`, async () =>
        downloadRange({ endpoint: this.storage.apiEndpoint, bucket: this.bucket, name: this.key(key), generation: String(metadata.generation), start, end, headers: await this.authHeaders(), timeoutMs: requestTimeoutMs(), handle }),
      );
      if (got === undefined) throw new StoreUnavailable(this.url, `get ${key}: the object went away while it was read`);
    });
    return true;
  }

  async list(prefix: string): Promise<string[]> {
    return this.call(`list ${prefix}`, async () => {
      const [files] = await this.bucketRef.getFiles({ prefix: this.key(prefix), autoPaginate: true });
      this.bucketSeen = true;
      return files.map((f) => (this.prefix ? f.name.slice(this.prefix.length + 1) : f.name)).sort();
    });
  }

  async listFolders(prefix: string): Promise<string[]> {
    return this.call(`list the folders in ${prefix || "(all)"}`, async () => {
      const under = this.key(prefix);
      const folders: string[] = [];
      // The folders come in each page's response (`prefixes`), which only a page-by-page listing keeps.
      let query: GetFilesOptions | undefined = { prefix: under, delimiter: "/", autoPaginate: false };
      while (query) {
        const [, next, response]: [unknown, GetFilesOptions | null | undefined, unknown] = await this.bucketRef.getFiles(query);
        for (const p of (response as { prefixes?: string[] } | undefined)?.prefixes ?? []) folders.push(p.slice(under.length, -1));
        query = next ?? undefined;
      }
      this.bucketSeen = true;
      return folders.sort();
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

/** Bytes per ranged download request. */
const CHUNK_BYTES = 64 * 1024 * 1024;
/** Where the parts of a composite upload are staged, under the store's prefix. */
export const UPLOADS = "uploads/";
/** GCS composes at most 32 sources per request. */
const COMPOSE_MAX = 32;
const PARTS_AT_ONCE = 4;
/** A request's timeout plus time to send `bytes` at 2 MB/s, the slowest link worth waiting for. */
const uploadTimeoutMs = (bytes: number) => requestTimeoutMs() + Math.ceil(bytes / (2 * 1024 * 1024)) * 1000;

function code(e: unknown): number | undefined {
  const c = (e as { code?: unknown })?.code;
  return typeof c === "number" ? c : undefined;
}
