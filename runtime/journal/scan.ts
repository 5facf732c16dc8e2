/**
 * Reading a journal: every complete, intact line is a record; an incomplete
 * or damaged tail is a torn write (cut before appending); a damaged line with
 * intact lines after it is corruption, reported with its byte offset.
 */
import { decodeRecord, type JournalRecord } from "./record";

export class JournalCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
  ) {
    super(`journal ${file} is corrupt at byte ${offset}: a damaged record is followed by intact ones`);
    this.name = "JournalCorruptError";
  }
}

export interface Scan {
  records: JournalRecord[];
  /** Each record's line, `\n` included (what identifies it when copies are merged). */
  lines: string[];
  /** Length of the intact prefix: appending starts here. */
  intactBytes: number;
  /** Bytes after the intact prefix that were cut (a torn last write). */
  tornBytes: number;
}

const NEWLINE = 0x0a;

export function scanJournal(data: Buffer, file: string): Scan {
  const records: JournalRecord[] = [];
  const lines: string[] = [];
  let offset = 0;
  let damagedAt = -1;
  while (offset < data.length) {
    const end = data.indexOf(NEWLINE, offset);
    if (end < 0) break; // no newline: a torn tail
    const line = data.toString("utf8", offset, end);
    const record = decodeRecord(line);
    if (record) {
      if (damagedAt >= 0) throw new JournalCorruptError(file, damagedAt);
      records.push(record);
      lines.push(`${line}\n`);
    } else if (damagedAt < 0) {
      damagedAt = offset;
    }
    offset = end + 1;
  }
  const intactBytes = damagedAt >= 0 ? damagedAt : offset;
  return { records, lines, intactBytes, tornBytes: data.length - intactBytes };
}
