/**
 * The sweep journal: which items are finished, durable against a crash at
 * any instant.
 *
 * On this machine it is one append-only file (`checkpointPath`), one fsynced
 * line per finished attempt: the cost of a record never depends on how many
 * came before. In the store it is a series of create-only segment objects
 * (`journal/seg-<seq>.jsonl`) holding the lines since the previous segment,
 * so the bytes sent per item stay constant too (object stores cannot append).
 * Opening merges the local file with the store, re-sends what the store
 * lacks, and compacts the store's segments into one base object.
 */
import { promises as fs, openSync, writeSync, fsyncSync, closeSync, ftruncateSync, constants } from "node:fs";
import { encodeRecord, type JournalRecord } from "./record";
import { JournalCorruptError, scanJournal } from "./scan";
import { PreconditionFailed, type Store } from "../store/store";
import { writeFileAtomic } from "../store/local-dir";

export const JOURNAL_PREFIX = "journal/";
const OBJECT = /^journal\/(base|seg)-(\d{10})\.jsonl$/;

export interface JournalWarning {
  message: string;
}

export interface JournalOptions {
  /** Local append-only file. */
  path: string;
  /** Durable mirror; records are durable when `append` resolves. */
  store?: Store;
  /** Called for problems that were handled (a torn tail cut, a corrupt copy set aside). */
  onWarning?: (w: JournalWarning) => void;
}

export class Journal {
  private fd: number;
  /** Records appended locally but not yet in the store. */
  private unsent: string[] = [];
  private flushing: Promise<void> | undefined;
  private nextSeq: number;
  private closed = false;

  private constructor(
    private readonly options: JournalOptions,
    fd: number,
    nextSeq: number,
    /** Every record, in order (the latest record of a key decides its state). */
    readonly records: JournalRecord[],
  ) {
    this.fd = fd;
    this.nextSeq = nextSeq;
  }

  static async open(options: JournalOptions): Promise<Journal> {
    const warn = options.onWarning ?? (() => undefined);
    const local = await readLocal(options.path, warn);
    const remote: StoreJournal = options.store ? await readStore(options.store, warn) : { lines: [], records: [], objects: [], nextSeq: 0 };

    // Merge: the store's history first, then local lines it has not seen.
    const merged: string[] = remote.lines;
    const mergedRecords: JournalRecord[] = remote.records;
    const seen = new Set(remote.lines);
    const missingRemotely: string[] = [];
    local.lines.forEach((line, i) => {
      if (seen.has(line)) return;
      seen.add(line);
      merged.push(line);
      mergedRecords.push(local.records[i]);
      missingRemotely.push(line);
    });

    // The local file becomes exactly the merged history (atomically), unless it already is.
    const localIsMerged = local.lines.length === merged.length && !local.needsRewrite;
    if (!localIsMerged) await writeFileAtomic(options.path, merged.join(""));
    const fd = openSync(options.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o644);
    if (localIsMerged && local.intactBytes !== undefined) ftruncateSync(fd, local.intactBytes);

    const journal = new Journal(options, fd, remote.nextSeq, mergedRecords);
    if (options.store) {
      if (remote.objects.length > 1 || (remote.objects.length === 1 && missingRemotely.length > 0)) {
        await journal.compact(merged, remote.objects);
      } else if (missingRemotely.length > 0) {
        journal.unsent.push(...missingRemotely);
        await journal.flush();
      }
    }
    return journal;
  }

  /** Appends a record: fsynced locally, then in the store, before it resolves. */
  async append(record: JournalRecord): Promise<void> {
    if (this.closed) throw new Error("journal is closed");
    const line = encodeRecord(record);
    writeSync(this.fd, line);
    fsyncSync(this.fd);
    this.records.push(JSON.parse(line) as JournalRecord);
    if (this.options.store) {
      this.unsent.push(line);
      await this.flush();
    }
  }

  /** Sends unsent lines as one segment; lines arriving meanwhile go in the next (group commit). */
  async flush(): Promise<void> {
    const store = this.options.store;
    if (!store) return;
    while (this.unsent.length > 0) {
      if (this.flushing) {
        await this.flushing;
        continue;
      }
      const batch = this.unsent.splice(0);
      this.flushing = this.putSegment(store, batch).finally(() => (this.flushing = undefined));
      try {
        await this.flushing;
      } catch (e) {
        this.unsent.unshift(...batch);
        throw e;
      }
    }
  }

  private async putSegment(store: Store, lines: string[]): Promise<void> {
    const seq = this.nextSeq;
    // Create-only: a second writer that got past the lease still cannot overwrite history.
    await store.put(objectKey("seg", seq), lines.join(""), { ifAbsent: true });
    this.nextSeq = seq + 1;
  }

  /** Replaces the store's objects by one base holding all of `lines`. */
  private async compact(lines: string[], objects: string[]): Promise<void> {
    const store = this.options.store!;
    const seq = this.nextSeq;
    await store.put(objectKey("base", seq), lines.join(""), { ifAbsent: true });
    this.nextSeq = seq + 1;
    // Only once the base is durable do the objects it replaces go.
    for (const key of objects) await store.delete(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      closeSync(this.fd);
    }
  }
}

function objectKey(kind: "base" | "seg", seq: number): string {
  return `${JOURNAL_PREFIX}${kind}-${String(seq).padStart(10, "0")}.jsonl`;
}

/** Lines and their decoded records, kept side by side so nothing is parsed twice. */
interface Copy {
  lines: string[];
  records: JournalRecord[];
}

async function readLocal(path: string, warn: (w: JournalWarning) => void): Promise<Copy & { intactBytes?: number; needsRewrite: boolean }> {
  let data: Buffer;
  try {
    data = await fs.readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { lines: [], records: [], needsRewrite: true };
    throw e;
  }
  try {
    const { lines, records, intactBytes, tornBytes } = scanJournal(data, path);
    if (tornBytes > 0) warn({ message: `${path}: cut a torn last record (${tornBytes} bytes at offset ${intactBytes})` });
    return { lines, records, intactBytes, needsRewrite: false };
  } catch (e) {
    if (!(e instanceof JournalCorruptError)) throw e;
    // Never clobber evidence: keep the damaged file beside the rebuilt one.
    const aside = `${path}.corrupt-${Date.now()}`;
    await fs.rename(path, aside);
    warn({ message: `${e.message}; kept it as ${aside} and rebuilt the journal from the newest intact copy` });
    return { lines: [], records: [], needsRewrite: true };
  }
}

interface StoreJournal extends Copy {
  /** Every journal object read or superseded: compaction replaces them all. */
  objects: string[];
  nextSeq: number;
}

async function readStore(store: Store, warn: (w: JournalWarning) => void): Promise<StoreJournal> {
  const objects = (await store.list(JOURNAL_PREFIX))
    .map((key) => ({ key, m: OBJECT.exec(key) }))
    .filter((o): o is { key: string; m: RegExpExecArray } => o.m !== null)
    .map((o) => ({ key: o.key, kind: o.m[1] as "base" | "seg", seq: Number(o.m[2]) }))
    .sort((a, b) => a.seq - b.seq);
  const nextSeq = objects.length ? objects[objects.length - 1].seq + 1 : 0;
  // Start from the newest intact base; older objects are what it replaced.
  let start = 0;
  const bases = objects.filter((o) => o.kind === "base").reverse();
  const bodies = new Map<string, Copy>();
  for (const base of bases) {
    const lines = await readObject(store, base.key, warn);
    if (lines) {
      bodies.set(base.key, lines);
      start = objects.indexOf(base);
      break;
    }
  }
  const lines: string[] = [];
  const records: JournalRecord[] = [];
  const used: string[] = [];
  for (const o of objects.slice(start)) {
    const body = bodies.get(o.key) ?? (o.kind === "seg" ? await readObject(store, o.key, warn) : undefined);
    used.push(o.key);
    if (body) {
      for (const line of body.lines) lines.push(line);
      for (const record of body.records) records.push(record);
    }
  }
  // Everything before the base is superseded; list it for deletion too.
  const superseded = objects.slice(0, start).map((o) => o.key);
  return { lines, records, objects: [...superseded, ...used], nextSeq };
}

/** An object's lines, or undefined (with a warning) if it fails its check. */
async function readObject(store: Store, key: string, warn: (w: JournalWarning) => void): Promise<Copy | undefined> {
  const object = await store.get(key);
  if (!object) return undefined;
  const where = `${store.url}/${key}`;
  try {
    const { lines, records, tornBytes, intactBytes } = scanJournal(object.body, where);
    // Objects are written whole: any damage is corruption, not a torn write.
    if (tornBytes > 0) throw new JournalCorruptError(where, intactBytes);
    return { lines, records };
  } catch (e) {
    if (!(e instanceof JournalCorruptError)) throw e;
    // Keep the damaged object for inspection: compaction deletes the original.
    await store.put(`quarantine/${key}`, object.body, { ifAbsent: true }).catch((err) => {
      if (!(err instanceof PreconditionFailed)) throw err;
    });
    warn({ message: `${e.message}; kept a copy as quarantine/${key} and ignored it (the items it recorded will run again)` });
    return undefined;
  }
}

