/**
 * Moving files of any size between disk and a store with bounded memory:
 * one streamed pass that hashes a file and its parts, and the fan-out of
 * parts and ranges a few at a time.
 */
import { createHash } from "node:crypto";
import { createReadStream, promises as fs, type ReadStream } from "node:fs";

/**
 * What one streamed pass over a file found (see `digestFile`): its SHA-256,
 * its size and the SHA-256 of each `partSize` slice, so a store that sends
 * the file in parts (S3 multipart) can have each part checked against the
 * bytes that were hashed, without a second pass.
 */
export interface FileDigest {
  sha256: string;
  size: number;
  partSize: number;
  /** SHA-256 (hex) of each `partSize` slice, in order. */
  parts: string[];
}

/** Parts of at least 64 MiB, and never more than 10,000 of them (S3's limit). */
export function partSizeFor(size: number): number {
  const MiB = 1024 * 1024;
  return Math.max(64 * MiB, Math.ceil(size / 10_000 / MiB) * MiB);
}

/**
 * One streamed pass over a file: its SHA-256 and size, and the SHA-256 of
 * each part (`partSizeFor`). Memory stays at the stream's buffer whatever
 * the file's size. Errors (ENOENT, EACCES, EISDIR...) are thrown as they come.
 */
export async function digestFile(file: string): Promise<FileDigest> {
  const size0 = (await fs.stat(file)).size;
  const partSize = partSizeFor(size0);
  // One part (most files): its hash is the file's, not computed twice (SHA-256 is most of a flush's CPU).
  const inParts = size0 > partSize;
  const whole = createHash("sha256");
  const parts: string[] = [];
  let part = createHash("sha256");
  let inPart = 0;
  let size = 0;
  for await (const chunk of readRange(file) as AsyncIterable<Buffer>) {
    whole.update(chunk);
    size += chunk.length;
    if (!inParts) continue;
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(chunk.length - at, partSize - inPart);
      part.update(take === chunk.length ? chunk : chunk.subarray(at, at + take));
      inPart += take;
      at += take;
      if (inPart === partSize) {
        parts.push(part.digest("hex"));
        part = createHash("sha256");
        inPart = 0;
      }
    }
  }
  const sha256 = whole.digest("hex");
  if (!inParts || size <= partSize) return { sha256, size, partSize, parts: [sha256] };
  if (inPart > 0) parts.push(part.digest("hex"));
  return { sha256, size, partSize, parts };
}

/** Streams a file's SHA-256 (hex). */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of readRange(file) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest("hex");
}

/** Read buffer for streaming a file: 1 MiB chunks (the default 64 KiB costs a request's CPU many times over). */
export const READ_CHUNK = 1024 * 1024;

/** Bytes `start`..`start + size - 1` of `file` (all of it by default), streamed in READ_CHUNK pieces. */
export function readRange(file: string, start = 0, size?: number): ReadStream {
  return createReadStream(file, { start, end: size === undefined ? undefined : start + size - 1, highWaterMark: READ_CHUNK });
}

/** Runs `fn` over `items`, at most `width` at a time. */
export async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}

/**
 * Fills `file` (created or truncated, then fsynced) with an object of `size`
 * bytes fetched in `rangeBytes` ranges, a few at once: `fetch` writes bytes
 * `start`..`end` (inclusive) at the same offsets through `handle`, and is
 * retried by the caller's policy on its own.
 */
export async function downloadInRanges(file: string, size: number, rangeBytes: number, fetch: (start: number, end: number, handle: fs.FileHandle) => Promise<void>): Promise<void> {
  const handle = await fs.open(file, "w");
  try {
    const starts = Array.from({ length: Math.ceil(size / rangeBytes) }, (_, i) => i * rangeBytes);
    await inParallel(starts, RANGES_AT_ONCE, (start) => fetch(start, Math.min(size, start + rangeBytes) - 1, handle));
    await handle.sync();
  } finally {
    await handle.close();
  }
}
const RANGES_AT_ONCE = 4;
