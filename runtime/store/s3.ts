/** s3://bucket/prefix through the AWS SDK v3, with S3's conditional writes. */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { s3Problem } from "./problems";
import { PreconditionFailed, StoreError, type PutCondition, type Store, type StoredObject } from "./store";
import { downloadInRanges, inParallel, readRange, type FileDigest } from "./transfer";
import { recordAwsCalls } from "../cloud/aws/call-log";
import { DEFAULT_RETRY, requestTimeoutMs, withRetry, type RetryPolicy } from "./retry";

export interface S3StoreOptions {
  client?: S3Client;
  retry?: RetryPolicy;
}

export class S3Store implements Store {
  readonly url: string;
  private readonly client: S3Client;
  private readonly retry: RetryPolicy;
  /** The bucket was seen to exist (an object, a listing, NoSuchKey): a HEAD's bare 404 is then a missing key. */
  private bucketSeen = false;

  constructor(
    readonly bucket: string,
    readonly prefix: string,
    options: S3StoreOptions = {},
  ) {
    this.url = `s3://${bucket}${prefix ? `/${prefix}` : ""}`;
    this.retry = options.retry ?? DEFAULT_RETRY;
    const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
    this.client =
      options.client ??
      recordAwsCalls(new S3Client({
        // Our own retry policy covers every store alike; the SDK's would multiply it.
        maxAttempts: 1,
        requestHandler: { requestTimeout: requestTimeoutMs(), connectionTimeout: 5_000 },
        // Emulators and custom endpoints do not resolve virtual-hosted bucket names.
        forcePathStyle: endpoint !== undefined,
        // A bucket kept from another stack may be in another region: follow S3's redirect to it.
        followRegionRedirects: true,
      }));
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  /**
   * A hard deadline per request. The handler's socket timeout alone let a
   * request whose response never came hang a runtime for good (seen once in
   * 200 kills under injected hangs); an aborted request is retried.
   */
  private deadline(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(requestTimeoutMs() + 1000) };
  }

  /** A deadline for a request that carries `bytes`: the usual one, plus a second per 2 MiB (slow links still finish). */
  private bodyDeadline(bytes: number): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(requestTimeoutMs() + 1000 + Math.ceil(bytes / (2 * 1024 * 1024)) * 1000) };
  }

  private async call<T>(what: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    try {
      return await withRetry(fn, this.retry);
    } catch (e) {
      if (e instanceof PreconditionFailed || e instanceof StoreError) throw e;
      throw await this.problem(what, e);
    }
  }

  /** What went wrong, said with its fix (see `problems.ts`). */
  private async problem(what: string, error: unknown, bucketMissing = false) {
    const r: unknown = this.client.config.region;
    const region = await (async () => (typeof r === "function" ? ((await r()) as string) : (r as string | undefined)))().catch(() => undefined);
    return s3Problem({ store: this.url, bucket: this.bucket, prefix: this.prefix, what, error, region, endpoint: process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL, bucketMissing });
  }

  /**
   * Whether the bucket exists: a HEAD answers a missing bucket with a bare
   * 404, as it does a missing key. Asked with the listing the store needs
   * anyway (no new permission); a refusal or an error leaves it assumed.
   */
  private async bucketExists(): Promise<boolean> {
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(""), MaxKeys: 1 }), this.deadline());
    } catch (e) {
      if ((e as Error).name === "NoSuchBucket") return false;
      return true;
    }
    this.bucketSeen = true;
    return true;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    return this.call(`get ${key}`, async () => {
      try {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }), this.deadline());
        const body = Buffer.from(await out.Body!.transformToByteArray());
        this.bucketSeen = true;
        return { body, version: out.ETag ?? "" };
      } catch (e) {
        // A GET's 404 says which is missing, the key or the bucket.
        if ((e as Error).name !== "NoSuchBucket" && (status(e) === 404 || (e as Error).name === "NoSuchKey")) {
          this.bucketSeen = true;
          return undefined;
        }
        throw e;
      }
    });
  }

  async put(key: string, body: Buffer | string, condition: PutCondition = {}): Promise<{ version: string }> {
    const data = typeof body === "string" ? Buffer.from(body) : body;
    return this.call(`put ${key}`, async (attempt) => {
      try {
        const command = new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(key),
          Body: data,
          IfNoneMatch: condition.ifAbsent ? "*" : undefined,
          IfMatch: condition.ifVersion,
          // S3 verifies the upload against the hash the caller already has, instead of the SDK computing a CRC.
          ChecksumSHA256: condition.sha256 ? Buffer.from(condition.sha256, "hex").toString("base64") : undefined,
        });
        if (condition.sha256) signWithKnownPayloadHash(command, condition.sha256);
        const out = await this.client.send(command, this.deadline());
        return { version: out.ETag ?? "" };
      } catch (e) {
        const code = status(e);
        if (code === 412 || (code === 404 && condition.ifVersion !== undefined && (e as Error).name !== "NoSuchBucket")) {
          // A retried create may have succeeded the first time: our own bytes are not a conflict.
          if (attempt > 1 && condition.ifAbsent) {
            const current = await this.get(key);
            if (current?.body.equals(data)) return { version: current.version };
          }
          throw new PreconditionFailed(this.url, key);
        }
        // 409 ConditionalRequestConflict: a concurrent conditional write; try again.
        if (code === 409) Object.assign(e as object, { $retryable: true });
        throw e;
      }
    });
  }

  /**
   * A file of any size, streamed from disk. Up to one part (64 MiB) it is one
   * PutObject; larger, a multipart upload: parts sent a few at a time, each
   * checked by S3 against the SHA-256 of the bytes `digestFile` hashed, and
   * completed create-only (`If-None-Match: *`). The parts of an upload a
   * crash or an error interrupted are found (ListMultipartUploads,
   * ListParts) and reused when their checksum matches; other stale uploads
   * of the key are aborted, and the bucket's lifecycle rule expires any left.
   */
  async putFile(key: string, file: string, digest: FileDigest, condition: { ifAbsent?: boolean } = {}): Promise<{ version: string }> {
    if (digest.size <= digest.partSize) {
      return this.call(`put ${key} (${file})`, async (attempt) => {
        try {
          const command = new PutObjectCommand({
            Bucket: this.bucket,
            Key: this.key(key),
            Body: readRange(file),
            ContentLength: digest.size,
            IfNoneMatch: condition.ifAbsent ? "*" : undefined,
            ChecksumSHA256: b64(digest.sha256),
          });
          signWithKnownPayloadHash(command, digest.sha256);
          const out = await this.client.send(command, this.bodyDeadline(digest.size));
          return { version: out.ETag ?? "" };
        } catch (e) {
          if (status(e) === 412) {
            if (attempt > 1 && condition.ifAbsent && (await this.sizeOf(key)) === digest.size) return { version: "" };
            throw new PreconditionFailed(this.url, key);
          }
          if (status(e) === 409) Object.assign(e as object, { $retryable: true });
          throw e;
        }
      });
    }
    if (condition.ifAbsent && (await this.sizeOf(key)) !== undefined) throw new PreconditionFailed(this.url, key);
    const Key = this.key(key);
    // An interrupted upload of this key goes on where it stopped: the key is a content hash, so an earlier
    // upload of it carried these very bytes, and each part is checked before it is reused. Of several, the one
    // holding the most is kept and the others are aborted.
    let uploadId: string | undefined;
    let done = new Map<number, { ETag: string; ChecksumSHA256: string }>();
    for (const candidate of await this.interruptedUploads(key)) {
      const reusable = new Map<number, { ETag: string; ChecksumSHA256: string }>();
      for (const part of await this.listParts(key, candidate)) {
        const n = part.PartNumber!;
        const start = (n - 1) * digest.partSize;
        const expected = Math.min(digest.partSize, digest.size - start);
        // Reused only when S3 holds exactly this part: its size and the SHA-256 of these very bytes. (S3 lists the
        // checksum of a part it verified on upload; an emulator that lists none, moto, is taken at the size.)
        const want = b64(digest.parts[n - 1] ?? "");
        if (part.ETag && part.Size === expected && (part.ChecksumSHA256 ?? want) === want) reusable.set(n, { ETag: part.ETag, ChecksumSHA256: want });
      }
      if (uploadId === undefined || reusable.size >= done.size) {
        if (uploadId !== undefined) await this.abort(key, uploadId);
        [uploadId, done] = [candidate, reusable];
      } else {
        await this.abort(key, candidate);
      }
    }
    if (uploadId === undefined) {
      const out = await this.call(`start the upload of ${key}`, () =>
        this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key, ChecksumAlgorithm: "SHA256" }), this.deadline()),
      );
      uploadId = out.UploadId!;
    }
    const todo = digest.parts.map((_, i) => i + 1).filter((n) => !done.has(n));
    await inParallel(todo, PARTS_AT_ONCE, async (n) => {
      const start = (n - 1) * digest.partSize;
      const length = Math.min(digest.partSize, digest.size - start);
      const hex = digest.parts[n - 1];
      const out = await this.call(`upload part ${n} of ${digest.parts.length} of ${key} (${file})`, async () => {
        const command = new UploadPartCommand({
          Bucket: this.bucket,
          Key,
          UploadId: uploadId,
          PartNumber: n,
          Body: readRange(file, start, length),
          ContentLength: length,
          ChecksumSHA256: b64(hex),
        });
        signWithKnownPayloadHash(command as unknown as PutObjectCommand, hex);
        return this.client.send(command, this.bodyDeadline(length));
      });
      done.set(n, { ETag: out.ETag ?? "", ChecksumSHA256: out.ChecksumSHA256 ?? b64(hex) });
    });
    const Parts = [...done].sort(([a], [b]) => a - b).map(([PartNumber, p]) => ({ PartNumber, ...p }));
    return this.call(`complete the upload of ${key} (${file})`, async (attempt) => {
      try {
        const out = await this.client.send(
          new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId, MultipartUpload: { Parts }, IfNoneMatch: condition.ifAbsent ? "*" : undefined }),
          // S3 may take a while to assemble a large object.
          { abortSignal: AbortSignal.timeout(Math.max(requestTimeoutMs(), 120_000)) },
        );
        return { version: out.ETag ?? "" };
      } catch (e) {
        const code = status(e);
        // A retried completion whose first try went through: the upload is gone and the object is ours.
        if (attempt > 1 && (code === 404 || (e as Error).name === "NoSuchUpload") && (await this.sizeOf(key)) === digest.size) return { version: "" };
        if (code === 412) {
          await this.abort(key, uploadId);
          throw new PreconditionFailed(this.url, key);
        }
        if (code === 409) Object.assign(e as object, { $retryable: true });
        throw e;
      }
    });
  }

  /** Multipart uploads of this key that were started and never completed nor aborted. */
  private async interruptedUploads(key: string): Promise<string[]> {
    const Key = this.key(key);
    return this.call(`list uploads of ${key}`, async () => {
      const uploads: string[] = [];
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      for (;;) {
        const out = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: Key, KeyMarker, UploadIdMarker }), this.deadline());
        for (const u of out.Uploads ?? []) if (u.Key === Key && u.UploadId) uploads.push(u.UploadId);
        if (!out.IsTruncated) break;
        [KeyMarker, UploadIdMarker] = [out.NextKeyMarker, out.NextUploadIdMarker];
      }
      return uploads;
    });
  }

  private async listParts(key: string, uploadId: string) {
    return this.call(`list the parts of ${key}`, async () => {
      const parts: { PartNumber?: number; ETag?: string; Size?: number; ChecksumSHA256?: string }[] = [];
      let PartNumberMarker: string | undefined;
      for (;;) {
        const out = await this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: this.key(key), UploadId: uploadId, PartNumberMarker }), this.deadline());
        parts.push(...(out.Parts ?? []));
        if (!out.IsTruncated) break;
        PartNumberMarker = out.NextPartNumberMarker;
      }
      return parts;
    });
  }

  private async abort(key: string, uploadId: string): Promise<void> {
    await this.call(`abort an upload of ${key}`, async () => {
      try {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key(key), UploadId: uploadId }), this.deadline());
      } catch (e) {
        if (status(e) !== 404) throw e;
      }
    }).catch(() => undefined); // left for the bucket's lifecycle rule
  }

  /** The stored size of an object, or undefined when there is none. */
  private async sizeOf(key: string): Promise<number | undefined> {
    let missing: unknown;
    const size = await this.call(`head ${key}`, async () => {
      try {
        const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }), this.deadline());
        this.bucketSeen = true;
        return out.ContentLength;
      } catch (e) {
        if (status(e) === 404 || (e as Error).name === "NotFound") {
          missing = e;
          return undefined;
        }
        throw e;
      }
    });
    // A missing key, or a missing bucket (a mistyped resume_from must not read as "nothing to resume").
    if (size === undefined && !this.bucketSeen && !(await this.bucketExists())) throw await this.problem(`head ${key}`, missing, true);
    return size;
  }

  /** Streams an object to `file` in ranges (a few at once, each retried on its own), so memory does not grow with its size. */
  async getToFile(key: string, file: string): Promise<boolean> {
    const size = await this.sizeOf(key);
    if (size === undefined) return false;
    await downloadInRanges(file, size, RANGE_BYTES, (start, end, handle) =>
      this.call(`get ${key} bytes ${start}-${end}`, async () => {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key), Range: `bytes=${start}-${end}` }), this.bodyDeadline(end - start + 1));
        let at = start;
        for await (const chunk of out.Body as Readable) {
          const buf = chunk as Buffer;
          await handle.write(buf, 0, buf.length, at);
          at += buf.length;
        }
        if (at !== end + 1) throw Object.assign(new Error(`got ${at - start} bytes of ${end - start + 1}`), { $retryable: true });
      }),
    );
    return true;
  }

  async list(prefix: string): Promise<string[]> {
    return this.call(`list ${prefix}`, async () => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(prefix), ContinuationToken: token }), this.deadline());
        for (const o of out.Contents ?? []) if (o.Key) keys.push(this.prefix ? o.Key.slice(this.prefix.length + 1) : o.Key);
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      this.bucketSeen = true;
      return keys.sort();
    });
  }

  async listFolders(prefix: string): Promise<string[]> {
    return this.call(`list the folders in ${prefix || "(all)"}`, async () => {
      const under = this.key(prefix);
      const folders: string[] = [];
      let token: string | undefined;
      do {
        const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: under, Delimiter: "/", ContinuationToken: token }), this.deadline());
        for (const p of out.CommonPrefixes ?? []) if (p.Prefix) folders.push(p.Prefix.slice(under.length, -1));
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      this.bucketSeen = true;
      return folders.sort();
    });
  }

  async delete(key: string): Promise<void> {
    await this.call(`delete ${key}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }), this.deadline()));
  }
}

/**
 * SigV4 signs the SHA-256 of the body (hex, `x-amz-content-sha256`), which
 * the signer computes unless the header is already set: a caller that has the
 * hash saves a second full pass over a large body.
 */
function signWithKnownPayloadHash(command: PutObjectCommand, sha256Hex: string): void {
  command.middlewareStack.add(
    (next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers["x-amz-content-sha256"] = sha256Hex;
      return next(args);
    },
    { step: "build", name: "spotjobKnownPayloadHash" },
  );
}

const PARTS_AT_ONCE = 4;
const RANGE_BYTES = 64 * 1024 * 1024;
const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");

function status(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
