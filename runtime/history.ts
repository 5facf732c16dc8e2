/**
 * A job's history in its store, and `run --fresh`: starting over in the same
 * store keeps the previous history under `history/<stamp>/`, never deleting
 * it. Every object is copied (streamed through a temporary file, so memory
 * does not grow with a checkpoint's size) before any original is removed,
 * and the status goes first, so a crash at any instant leaves either the
 * whole old history in place, or a job with no status whose journal still
 * says truthfully which items are done.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JOURNAL_PREFIX } from "./journal/journal";
import { LOGS_PREFIX } from "./run-log";
import { MANIFEST_KEY, SNAPSHOT_PREFIX } from "./snapshot/mirror";
import { STATUS_KEY } from "./status";
import type { Store } from "./store/store";
import { digestFile } from "./store/transfer";

/** The sweep's results, one JSON line per item, beside the status. */
export const RESULTS_KEY = "results.jsonl";

/** Where `--fresh` keeps earlier histories. */
export const HISTORY_PREFIX = "history/";

/**
 * What a run writes about the job: the lease, the supervisor's records (the money spent is spent) and earlier
 * histories are not part of it.
 */
const HISTORY_KEYS = [STATUS_KEY, RESULTS_KEY];
const HISTORY_PREFIXES = [JOURNAL_PREFIX, SNAPSHOT_PREFIX, LOGS_PREFIX];

/** Removal order: what says "this is the job's state" first, so a partial removal never claims more than is there. */
const REMOVE_FIRST = [STATUS_KEY, MANIFEST_KEY, RESULTS_KEY];

export interface SetAside {
  /** Where the previous history now is, e.g. `history/2026-12-02T13-05-00Z/`. */
  prefix: string;
  objects: number;
  bytes: number;
}

/** Moves the job's history to `history/<stamp>/`; undefined when there is none. */
export async function setAsideHistory(store: Store, now = new Date()): Promise<SetAside | undefined> {
  const found: string[] = [];
  // Listed, not read: results.jsonl of a large sweep is large.
  for (const key of HISTORY_KEYS) if ((await store.list(key)).includes(key)) found.push(key);
  for (const prefix of HISTORY_PREFIXES) found.push(...(await store.list(prefix)));
  if (found.length === 0) return undefined;
  const prefix = `${HISTORY_PREFIX}${historyStamp(now)}/`;
  const scratch = mkdtempSync(join(tmpdir(), "spotjob-history-"));
  let bytes = 0;
  try {
    for (const key of found) {
      const file = join(scratch, "object");
      if (!(await store.getToFile(key, file))) continue; // gone since the listing: nothing to keep
      const digest = await digestFile(file);
      await store.putFile(`${prefix}${key}`, file, digest);
      bytes += digest.size;
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const order = [...REMOVE_FIRST.filter((k) => found.includes(k)), ...found.filter((k) => !REMOVE_FIRST.includes(k))];
  for (const key of order) await store.delete(key);
  return { prefix, objects: found.length, bytes };
}

/** A time as a name that sorts and is safe in keys and paths: 2026-12-02T13-05-00Z. */
export function historyStamp(at: Date): string {
  return at.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
}
