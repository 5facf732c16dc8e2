/** s3://bucket/prefix through the AWS SDK v3, with S3's conditional writes. */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { PreconditionFailed, StoreUnavailable, type PutCondition, type Store, type StoredObject } from "./store";
import { DEFAULT_RETRY, requestTimeoutMs, withRetry, type RetryPolicy } from "./retry";

export interface S3StoreOptions {
  client?: S3Client;
  retry?: RetryPolicy;
}

export class S3Store implements Store {
  readonly url: string;
  private readonly client: S3Client;
  private readonly retry: RetryPolicy;

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
      new S3Client({
        // Our own retry policy covers every store alike; the SDK's would multiply it.
        maxAttempts: 1,
        requestHandler: { requestTimeout: requestTimeoutMs(), connectionTimeout: 5_000 },
        // Emulators and custom endpoints do not resolve virtual-hosted bucket names.
        forcePathStyle: endpoint !== undefined,
      });
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

  private async call<T>(what: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    try {
      return await withRetry(fn, this.retry);
    } catch (e) {
      if (e instanceof PreconditionFailed) throw e;
      throw new StoreUnavailable(this.url, `${what} failed: ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    return this.call(`get ${key}`, async () => {
      try {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }), this.deadline());
        const body = Buffer.from(await out.Body!.transformToByteArray());
        return { body, version: out.ETag ?? "" };
      } catch (e) {
        if (status(e) === 404 || (e as Error).name === "NoSuchKey") return undefined;
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
        if (code === 412 || (code === 404 && condition.ifVersion !== undefined)) {
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

  async list(prefix: string): Promise<string[]> {
    return this.call(`list ${prefix}`, async () => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(prefix), ContinuationToken: token }), this.deadline());
        for (const o of out.Contents ?? []) if (o.Key) keys.push(this.prefix ? o.Key.slice(this.prefix.length + 1) : o.Key);
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
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

function status(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
