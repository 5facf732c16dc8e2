/**
 * One object written to GCS with a single-request media upload
 * (`uploadType=media`): the request body is the object's bytes and nothing
 * else. The Node client offers only multipart (or resumable) uploads, which
 * wrap the bytes in a MIME envelope; against fake-gcs-server that envelope
 * cost 5-10 s of emulator CPU per GB, the plain body 2-3 s, on the flush's
 * critical path (`bench/flush`). The client still supplies the endpoint and
 * the credentials.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

export interface MediaUpload {
  /** e.g. https://storage.googleapis.com, or the emulator's base URL. */
  endpoint: string;
  bucket: string;
  name: string;
  body: Buffer;
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
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: "POST", headers: { ...u.headers, "content-type": "application/octet-stream", "content-length": u.body.length } }, (res) => {
      readAll(res).then((text) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) return reject(new GcsHttpError(status, `HTTP ${status} ${errorMessage(text)}`));
        try {
          const object = JSON.parse(text) as { generation?: unknown; size?: unknown };
          resolve({ generation: String(object.generation ?? ""), size: Number(object.size) });
        } catch {
          // A 2xx whose body did not arrive whole: the object may or may not exist; a create-only retry finds out.
          reject(Object.assign(new Error(`unreadable upload response: ${text.slice(0, 200)}`), { $retryable: true }));
        }
      }, reject);
    });
    req.setTimeout(u.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer in ${u.timeoutMs} ms`), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end(u.body);
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
