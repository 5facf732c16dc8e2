/**
 * One object written to GCS with a single-request media upload
 * (`uploadType=media`): the request body is the object's bytes and nothing
 * else. The Node client offers only multipart (or resumable) uploads, which
 * wrap the bytes in a MIME envelope; against fake-gcs-server that envelope
 * cost 5-10 s of emulator CPU per GB, the plain body 2-3 s, on the flush's
 * critical path (`bench/flush`). The client still supplies the endpoint and
 * the credentials.
 */
import type { promises as fs } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { readRange } from "./transfer";

export interface MediaUpload {
  /** e.g. https://storage.googleapis.com, or the emulator's base URL. */
  endpoint: string;
  bucket: string;
  name: string;
  /** The bytes, or `size` bytes of a file from `start` (default 0), streamed. */
  body: Buffer | { file: string; start?: number; size: number };
  /** 0: create only; a generation: replace only that one. */
  ifGenerationMatch?: number;
  /** Authorization and the like; none for an emulator. */
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface UploadedObject {
  generation: string;
  size: number;
}

/** An upload the service refused: `code` is the HTTP status, as the GCS client reports it (412: a precondition lost). */
export class GcsHttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "GcsHttpError";
  }
}

export function mediaUpload(u: MediaUpload): Promise<UploadedObject> {
  const url = new URL(`${u.endpoint.replace(/\/$/, "")}/upload/storage/v1/b/${encodeURIComponent(u.bucket)}/o`);
  url.searchParams.set("uploadType", "media");
  url.searchParams.set("name", u.name);
  if (u.ifGenerationMatch !== undefined) url.searchParams.set("ifGenerationMatch", String(u.ifGenerationMatch));
  return sendForObject(url, { ...u.headers, "content-type": "application/octet-stream" }, u.body, u.timeoutMs);
}

/** POSTs `body` (bytes, or a file range streamed) and reads back the object GCS answers with. */
function sendForObject(url: URL, headers: Record<string, string>, body: MediaUpload["body"], timeoutMs: number): Promise<UploadedObject> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const length = Buffer.isBuffer(body) ? body.length : body.size;
    const req = send(url, { method: "POST", headers: { ...headers, "content-length": length } }, (res) => {
      readAll(res).then((text) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) return reject(new GcsHttpError(status, `HTTP ${status} ${errorMessage(text)}`));
        try {
          const object = JSON.parse(text) as { generation?: unknown; size?: unknown };
          resolve({ generation: String(object.generation ?? ""), size: Number(object.size) });
        } catch {
          // A 2xx whose body did not arrive whole: the object may or may not exist; a create-only retry finds out.
          reject(Object.assign(new Error(`unreadable answer: ${text.slice(0, 200)}`), { $retryable: true }));
        }
      }, reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer in ${timeoutMs} ms`), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    if (Buffer.isBuffer(body)) req.end(body);
    else if (body.size === 0) req.end();
    else pipeFile(readRange(body.file, body.start ?? 0, body.size), req, reject);
  });
}

function pipeFile(source: NodeJS.ReadableStream & { destroy(e?: Error): void }, req: import("node:http").ClientRequest, reject: (e: Error) => void): void {
  source.on("error", (e) => {
    req.destroy(e);
    reject(e);
  });
  source.pipe(req);
}

/**
 * Concatenates `sources` (at most 32, GCS's limit; each may itself be a
 * composite) into `destination`, in one request with no data transferred.
 * `ifGenerationMatch` 0 makes it create-only.
 */
export function compose(c: { endpoint: string; bucket: string; sources: string[]; destination: string; ifGenerationMatch?: number; headers: Record<string, string>; timeoutMs: number }): Promise<UploadedObject> {
  const url = new URL(`${c.endpoint.replace(/\/$/, "")}/storage/v1/b/${encodeURIComponent(c.bucket)}/o/${encodeURIComponent(c.destination)}/compose`);
  if (c.ifGenerationMatch !== undefined) url.searchParams.set("ifGenerationMatch", String(c.ifGenerationMatch));
  const request = { sourceObjects: c.sources.map((name) => ({ name })), destination: { contentType: "application/octet-stream" } };
  return sendForObject(url, { ...c.headers, "content-type": "application/json; charset=UTF-8" }, Buffer.from(JSON.stringify(request)), c.timeoutMs);
}

/**
 * Streams bytes `start`..`end` of an object into `handle` at the same
 * offsets (`alt=media` with a `Range`); 404 is reported as `undefined`.
 */
export function downloadRange(d: { endpoint: string; bucket: string; name: string; generation?: string; start: number; end: number; headers: Record<string, string>; timeoutMs: number; handle: fs.FileHandle }): Promise<number | undefined> {
  const url = new URL(`${d.endpoint.replace(/\/$/, "")}/storage/v1/b/${encodeURIComponent(d.bucket)}/o/${encodeURIComponent(d.name)}`);
  url.searchParams.set("alt", "media");
  if (d.generation) url.searchParams.set("generation", d.generation);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: "GET", headers: { ...d.headers, range: `bytes=${d.start}-${d.end}` } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status === 404) return void readAll(res).then(() => resolve(undefined), reject);
      if (status !== 200 && status !== 206) return void readAll(res).then((text) => reject(new GcsHttpError(status, `HTTP ${status} ${errorMessage(text)}`)), reject);
      // A server that ignores the range sends the whole object from byte 0.
      let at = status === 206 ? d.start : 0;
      const wanted = d.end - d.start + 1;
      let got = 0;
      res.on("aborted", () => reject(Object.assign(new Error("response cut off"), { code: "ECONNRESET" })));
      (async () => {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          if (status === 200) {
            // Keep only the requested slice of a full-object answer.
            const lo = Math.max(0, d.start - at);
            const hi = Math.min(chunk.length, d.end + 1 - at);
            if (hi > lo) {
              await d.handle.write(chunk, lo, hi - lo, at + lo);
              got += hi - lo;
            }
            at += chunk.length;
            if (at > d.end) break;
          } else {
            await d.handle.write(chunk, 0, chunk.length, at);
            at += chunk.length;
            got += chunk.length;
          }
        }
        if (got !== wanted) throw Object.assign(new Error(`got ${got} bytes of ${wanted}`), { code: "ECONNRESET" });
        resolve(got);
      })().catch((e) => {
        res.destroy();
        reject(e);
      });
    });
    req.setTimeout(d.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer in ${d.timeoutMs} ms`), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end();
  });
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
    res.on("aborted", () => reject(Object.assign(new Error("response cut off"), { code: "ECONNRESET" })));
  });
}

/** GCS answers errors as {"error": {"message": ...}}; anything else is shown briefly as it came. */
function errorMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === "string") return message;
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}
