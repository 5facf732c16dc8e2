/**
 * ResumableSweep: the journal as an API. Open it over your items, skip what
 * is `completed`, `record` each finished item; a crash or preemption at any
 * instant loses at most the items in flight.
 *
 * ```ts
 * const sweep = await ResumableSweep.open({ items, key: "{lr}-{seed}", checkpointPath: "state/journal.jsonl", resumeFrom: "s3://bucket/job" });
 * for (const item of sweep.pending) await sweep.record(item, await train(item));
 * await sweep.close();
 * ```
 */
import { hashKey, renderKey } from "../../core/jobspec/sweep";
import { Journal, type JournalWarning } from "../journal/journal";
import type { ItemStatus, JournalRecord } from "../journal/record";
import { LocalDirStore } from "../store/local-dir";
import { openStore } from "../store/open";
import type { Store } from "../store/store";

export interface ResumableSweepOptions<T> {
  items: readonly T[];
  /** A template ("{label}-{seed}"), a field name, or a function; default: hash of the item's canonical JSON. */
  key?: string | ((item: T) => string);
  /** Local append-only journal file. */
  checkpointPath: string;
  /** Durable copy to mirror to and resume from: a directory, s3://, gs://. */
  resumeFrom?: string;
  /** A directory that receives the durable copy (when resumeFrom is not given). */
  snapshotDir?: string;
  /** An already opened store (takes precedence over resumeFrom and snapshotDir). */
  store?: Store;
  onWarning?: (w: JournalWarning) => void;
}

export interface RecordOptions {
  status?: ItemStatus;
  exit?: number | null;
  error?: string;
  log_tail?: string;
  seconds?: number;
}

export class ResumableSweep<T> {
  private readonly latest = new Map<string, JournalRecord>();
  private readonly tries = new Map<string, number>();
  /** Keys of this sweep's items: records of items since removed from the spec do not count. */
  private readonly keys: Set<string>;
  /** Each item's key, computed once, in item order. */
  private readonly itemKeys: string[];
  private tally = { done: 0, failed: 0 };

  private constructor(
    private readonly journal: Journal,
    readonly items: readonly T[],
    private readonly keyFn: (item: T) => string,
  ) {
    this.itemKeys = items.map(keyFn);
    this.keys = new Set(this.itemKeys);
    for (const r of journal.records) this.note(r);
  }

  static async open<T>(options: ResumableSweepOptions<T>): Promise<ResumableSweep<T>> {
    const store = options.store ?? (options.resumeFrom ? openStore(options.resumeFrom) : options.snapshotDir ? new LocalDirStore(options.snapshotDir) : undefined);
    const journal = await Journal.open({ path: options.checkpointPath, store, onWarning: options.onWarning });
    const key = options.key;
    const keyFn =
      typeof key === "function" ? key : (item: T) => (key === undefined ? hashKey(item as Record<string, unknown>) : renderKey(key, item as Record<string, unknown>));
    return new ResumableSweep(journal, options.items, keyFn);
  }

  private note(r: JournalRecord): void {
    this.tries.set(r.key, Math.max(this.tries.get(r.key) ?? 0, r.attempt));
    const previous = this.latest.get(r.key);
    // Once done, always done: a late duplicate cannot undo it.
    if (previous?.status === "done") return;
    this.latest.set(r.key, r);
    if (!this.keys.has(r.key)) return;
    if (previous) this.tally[previous.status]--;
    this.tally[r.status]++;
  }

  /** Items done and items whose latest attempt failed; O(1). */
  counts(): { done: number; failed: number; total: number } {
    return { ...this.tally, total: this.items.length };
  }

  keyOf(item: T): string {
    return this.keyFn(item);
  }

  /** Items finished successfully, with their results, in item order. */
  get completed(): Array<{ key: string; item: T; result: unknown }> {
    return this.items.flatMap((item, i) => {
      const r = this.latest.get(this.itemKeys[i]);
      return r?.status === "done" ? [{ key: r.key, item, result: r.result }] : [];
    });
  }

  /** Items whose latest attempt failed. */
  get failed(): Array<{ key: string; item: T; record: JournalRecord }> {
    return this.items.flatMap((item, i) => {
      const r = this.latest.get(this.itemKeys[i]);
      return r?.status === "failed" ? [{ key: r.key, item, record: r }] : [];
    });
  }

  /** Items not yet done (never tried, or failed: a resume retries them). */
  get pending(): T[] {
    return this.items.filter((_, i) => this.latest.get(this.itemKeys[i])?.status !== "done");
  }

  /** The record that decides a key's state, if any. */
  latestOf(key: string): JournalRecord | undefined {
    return this.latest.get(key);
  }

  /** Attempts recorded so far for a key, across every run. */
  attempts(key: string): number {
    return this.tries.get(key) ?? 0;
  }

  /** The latest record of every item that has one, in item order. */
  results(): JournalRecord[] {
    return this.itemKeys.flatMap((key) => this.latest.get(key) ?? []);
  }

  async record(item: T, result?: unknown, options: RecordOptions = {}): Promise<void> {
    const key = this.keyFn(item);
    const record: JournalRecord = {
      v: 1,
      key,
      status: options.status ?? "done",
      attempt: this.attempts(key) + 1,
      ...(options.exit !== undefined ? { exit: options.exit } : {}),
      ...(result !== undefined ? { result } : {}),
      ...(options.error ? { error: options.error } : {}),
      ...(options.log_tail ? { log_tail: options.log_tail } : {}),
      ...(options.seconds !== undefined ? { seconds: Math.round(options.seconds * 1000) / 1000 } : {}),
      at: new Date().toISOString(),
    };
    await this.journal.append(record);
    this.note(record);
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
