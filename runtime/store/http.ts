/**
 * Read-only http(s):// source for resume_from. The key is appended to the
 * URL's path, never to the whole string, so a presigned URL's query string
 * stays intact; a 404 means "nothing to resume from", not an error.
 */
import { createWriteStream } from "node:fs";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { httpProblem, readOnly } from "./problems";
import type { Store, StoredObject } from "./store";
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from "./retry";

export class HttpStore implements Store {
  readonly url: string;

  constructor(
    private readonly base: URL,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {
    // Never echo a presigned signature into logs.
    this.url = `${base.origin}${base.pathname}`;
  }

  resolve(key: string): URL {
    const url = new URL(this.base.href);
    if (key) url.pathname = `${url.pathname.replace(/\/$/, "")}/${key.split("/").map(encodeURIComponent).join("/")}`;
    return url;
  }

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      return await withRetry(async () => {
        const response = await fetch(this.resolve(key), { signal: AbortSignal.timeout(30_000) });
        if (response.status === 404) return undefined;
        if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status} ${response.statusText}`), { status: response.status });
        const body = Buffer.from(await response.arrayBuffer());
        return { body, version: response.headers.get("etag") ?? "" };
      }, this.retry);
    } catch (e) {
      throw httpProblem(this.url, `get ${key || "(file)"}`, e);
    }
  }

  /** Streams the body into `file`; a transfer that stalls for 30 s is retried from the start. */
  async getToFile(key: string, file: string): Promise<boolean> {
    try {
      return await withRetry(async () => {
        const abort = new AbortController();
        let timer = setTimeout(() => abort.abort(Object.assign(new Error("no data for 30 s"), { name: "TimeoutError" })), 30_000);
        try {
          const response = await fetch(this.resolve(key), { signal: abort.signal });
          if (response.status === 404) return false;
          if (!response.ok || !response.body) throw Object.assign(new Error(`HTTP ${response.status} ${response.statusText}`), { status: response.status });
          const idle = new Transform({
            transform(chunk, _enc, done) {
              clearTimeout(timer);
              timer = setTimeout(() => abort.abort(Object.assign(new Error("no data for 30 s"), { name: "TimeoutError" })), 30_000);
              done(null, chunk);
            },
          });
          await pipeline(Readable.fromWeb(response.body as import("node:stream/web").ReadableStream), idle, createWriteStream(file));
          return true;
        } finally {
          clearTimeout(timer);
        }
      }, this.retry);
    } catch (e) {
      throw httpProblem(this.url, `get ${key || "(file)"}`, e);
    }
  }

  async putFile(key?: string): Promise<never> {
    throw readOnly(this.url, key ? `put ${key}` : "put");
  }

  async put(key?: string): Promise<never> {
    throw readOnly(this.url, key ? `put ${key}` : "put");
  }

  async list(): Promise<string[]> {
    return [];
  }

  async listFolders(): Promise<string[]> {
    return [];
  }

  async delete(key?: string): Promise<never> {
    throw readOnly(this.url, key ? `delete ${key}` : "delete");
  }
}
