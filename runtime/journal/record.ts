/**
 * One journal record = one finished attempt at one sweep item, as one line of
 * JSON that carries the format version and a hash of its own content. A line
 * whose hash does not match was torn or corrupted and is never trusted.
 */
import { createHash } from "node:crypto";

export const JOURNAL_VERSION = 1;

export type ItemStatus = "done" | "failed";

export interface JournalRecord {
  v: typeof JOURNAL_VERSION;
  key: string;
  status: ItemStatus;
  /** 1-based attempt number across all runs of the job. */
  attempt: number;
  /** Exit code of the item's command (null when killed by a signal). */
  exit?: number | null;
  result?: unknown;
  error?: string;
  /** Last lines of the item's output, for failed items. */
  log_tail?: string;
  /** Wall time of the attempt, seconds. */
  seconds?: number;
  at: string;
}

function digest(body: string): string {
  return createHash("sha256").update(body).digest("hex").slice(0, 16);
}

/** The record as one line, `\n` included; the hash covers every other field. */
export function encodeRecord(record: JournalRecord): string {
  const body = JSON.stringify(record);
  return `${body.slice(0, -1)},"h":"${digest(body)}"}\n`;
}

/** The record in `line` (without its `\n`), or undefined when it fails its check. */
export function decodeRecord(line: string): JournalRecord | undefined {
  const m = /,"h":"([0-9a-f]{16})"\}$/.exec(line);
  if (!m) return undefined;
  const body = `${line.slice(0, m.index)}}`;
  if (digest(body) !== m[1]) return undefined;
  try {
    const record = JSON.parse(body) as JournalRecord;
    if (record.v !== JOURNAL_VERSION || typeof record.key !== "string") return undefined;
    return record;
  } catch {
    return undefined;
  }
}
