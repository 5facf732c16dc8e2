/**
 * The synced snapshot directory (`$SWEEP_SNAPSHOT_DIR`): a local directory
 * restored from the store before the job runs and mirrored to it while the
 * job writes, so that programs which keep their own progress files become
 * spot-safe unchanged.
 *
 * In the store, file contents are immutable, content-addressed blobs
 * (`snapshot/blobs/<sha256>`, create-only) and one manifest
 * (`snapshot/manifest.json`: path → sha256, size) is the commit point: a
 * reader sees the old directory or the new one, never a mix, and every file
 * is checked against its hash on restore. A file is uploaded only once it
 * has not been modified for SETTLE_MS (OPEN_SETTLE_MS while a process holds
 * it open for writing) and did not change while it was read, so a file in
 * the middle of being rewritten is not sent; at a stop, a file
 * the dying job may have left torn is replaced by the copy taken just before
 * the signal (see `capture` and `flush`).
 */
import { createHash } from "node:crypto";
import { promises as fs, type Stats } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { isTempFile, writeFileAtomic } from "../store/local-dir";
import { openForWriting } from "./open-files";
import { PreconditionFailed, type Store } from "../store/store";

export const MANIFEST_KEY = "snapshot/manifest.json";
const BLOBS = "snapshot/blobs/";
const UPLOADS_AT_ONCE = 8;
/** A write this close after the stop signal came from a process the signal was killing. */
const SIGNAL_WINDOW_MS = 50;
/**
 * A file last modified this long ago is complete: writers rewrite a progress
 * file in well under this, so an older state is not one caught mid-write
 * (unless its writer died mid-write, which the stop sequence handles).
 */
const SETTLE_MS = 100;
/**
 * A file some process still holds open for writing may be mid-rewrite with
 * its writer descheduled (seen under load): it must hold still longer. Not
 * forever, so a log kept open for appending is still mirrored.
 */
const OPEN_SETTLE_MS = 500;
/** SPOTJOB_DEBUG_SNAPSHOT=1: every capture and flush decision on stderr (for chasing races). */
const trace = (message: () => string) => {
  if (process.env.SPOTJOB_DEBUG_SNAPSHOT) process.stderr.write(`[snapshot ${Date.now() % 100000}] ${message()}\n`);
};
const isSettled = (st: Seen, open = false) => Date.now() - st.mtimeMs >= (open ? OPEN_SETTLE_MS : SETTLE_MS);

/**
 * The entries complete enough to send. While the job runs ("running"): held
 * still for SETTLE_MS, or OPEN_SETTLE_MS while a process holds the file open
 * for writing. With the job paused ("paused"): no process holds it open for
 * writing, however new (its age says nothing, the pause stopped the clock on
 * its writer); where /proc is missing, the age rule stands.
 */
function settledOnly<T extends [string, Seen]>(dir: string, entries: T[], job: "running" | "paused" = "running"): T[] {
  const candidates = job === "paused" ? entries : entries.filter(([, st]) => !isSettled(st, true));
  const writing = candidates.length ? openForWriting(new Set(candidates.map(([path]) => resolve(dir, path)))) : new Set<string>();
  return entries.filter(([path, st]) => {
    const open = writing?.has(resolve(dir, path)) ?? false;
    return job === "paused" && writing !== undefined ? !open : isSettled(st, open);
  });
}

export interface SnapshotManifest {
  v: 1;
  files: Record<string, { sha256: string; size: number }>;
}

export class SnapshotCorruptError extends Error {
  constructor(
    readonly store: string,
    readonly path: string,
    detail: string,
  ) {
    super(`${store}: snapshot file ${path} fails its integrity check (${detail}); nothing was overwritten`);
    this.name = "SnapshotCorruptError";
  }
}

export interface SnapshotMirrorOptions {
  store: Store;
  dir: string;
  /**
   * A file outside `dir` that remembers which manifest this machine last
   * committed or restored: when the store still holds that one, the local
   * directory is newer than the store and is kept as it is.
   */
  syncedMarker: string;
  /** How often the directory is scanned for changes. */
  pollMs?: number;
  onWarning?: (message: string) => void;
}

interface Seen {
  size: number;
  mtimeMs: number;
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const sameStat = (a: Seen | undefined, b: Seen) => a !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs;

export class SnapshotMirror {
  private manifest: SnapshotManifest = { v: 1, files: {} };
  /** The stat of each file as last uploaded. */
  private uploaded = new Map<string, Seen>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> = Promise.resolve();
  /** Contents of changed files at the quiet moment before a stop signal went to the job (see `capture`). */
  private captured: Map<string, { body: Buffer; seen: Seen }> | undefined;
  private stopping = false;
  /** When the stop signal went to the job (wall clock, as file mtimes are). */
  private signalledAt = 0;
  /** Time of the last successful upload of a change (for the flush bench). */
  lastSyncAt = 0;

  constructor(private readonly o: SnapshotMirrorOptions) {}

  /** Brings the directory to the store's last committed state; returns how many files came back. */
  async restore(): Promise<number> {
    const { store, dir } = this.o;
    await fs.mkdir(dir, { recursive: true });
    const object = await store.get(MANIFEST_KEY);
    if (!object) return 0;
    let manifest: SnapshotManifest;
    try {
      manifest = JSON.parse(object.body.toString()) as SnapshotManifest;
      if (manifest.v !== 1 || typeof manifest.files !== "object") throw new Error("unknown manifest format");
    } catch (e) {
      throw new SnapshotCorruptError(store.url, MANIFEST_KEY, (e as Error).message);
    }
    if ((await fs.readFile(this.o.syncedMarker, "utf8").catch(() => "")) === sha256(object.body)) {
      // This machine wrote (or restored) the store's latest state: what is here is that or newer.
      this.manifest = manifest;
      return 0;
    }
    // Fetch and check everything before writing anything: a bad copy must not replace a good one.
    const fetched: [string, Buffer][] = [];
    for (const [path, entry] of Object.entries(manifest.files)) {
      const local = join(dir, path);
      const existing = await fs.readFile(local).catch(() => undefined);
      if (existing && sha256(existing) === entry.sha256) continue;
      const blob = await store.get(`${BLOBS}${entry.sha256}`);
      if (!blob) throw new SnapshotCorruptError(store.url, path, `blob ${entry.sha256} is missing`);
      const actual = sha256(blob.body);
      if (actual !== entry.sha256) throw new SnapshotCorruptError(store.url, path, `sha256 ${actual}, manifest says ${entry.sha256}`);
      fetched.push([local, blob.body]);
    }
    for (const [local, body] of fetched) {
      await fs.mkdir(dirname(local), { recursive: true });
      await writeFileAtomic(local, body);
    }
    this.manifest = manifest;
    await writeFileAtomic(this.o.syncedMarker, sha256(object.body));
    for (const path of Object.keys(manifest.files)) {
      const st = await fs.stat(join(dir, path));
      this.uploaded.set(path, { size: st.size, mtimeMs: st.mtimeMs });
    }
    return fetched.length;
  }

  /** Starts mirroring changes as they settle. */
  start(): void {
    const tick = () => {
      // Once a stop began, the capture and the flush own the directory (a paused writer's file only looks settled).
      if (this.stopping) return;
      this.scanning = this.scanning.then(() => this.scan(false)).catch((e) => this.o.onWarning?.(`snapshot mirror: ${(e as Error).message} (will retry)`));
    };
    this.timer = setInterval(tick, this.o.pollMs ?? 200);
    this.timer.unref();
  }

  /**
   * Called when a stop is requested, before the job is signalled: keeps the
   * contents of every changed file that is complete, waiting (up to
   * `maxWaitMs`) for files still being written. A program killed by the
   * signal in the middle of rewriting a file leaves it torn; the flush then
   * sends this copy instead.
   *
   * With a `freezer` (the job's process groups, paused with SIGSTOP) the
   * copy is taken while nothing can write, and a file no process holds open
   * for writing is complete however new; without one (or without /proc) a
   * file counts as complete once it has held still (SETTLE_MS). It returns
   * with the job still paused: the caller signals it, then resumes it, so
   * nothing is written between the copy and the signal.
   */
  async capture(maxWaitMs = 1000, freezer?: { pause(): void; resume(): void }): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + maxWaitMs;
    const captured = new Map<string, { body: Buffer; seen: Seen }>();
    try {
      for (;;) {
        const last = Date.now() >= deadline;
        freezer?.pause();
        let pending: number;
        try {
          const files = await listFiles(this.o.dir);
          const changed = [...files].filter(([path, st]) => !sameStat(this.uploaded.get(path), st) && !sameStat(captured.get(path)?.seen, st));
          const complete = settledOnly(this.o.dir, changed, freezer ? "paused" : "running");
          for (const [path, st] of complete) {
            const seen = { size: st.size, mtimeMs: st.mtimeMs };
            const body = await readUnchanged(join(this.o.dir, path), seen);
            if (body) captured.set(path, { body, seen });
          }
          pending = changed.length - complete.length;
          trace(() => `capture: ${changed.map(([p, st]) => `${p}:${st.size}@${st.mtimeMs % 100000}`).join(" ")} complete ${complete.length} pending ${pending}`);
        } catch (e) {
          freezer?.resume();
          throw e;
        }
        if (pending === 0 || last) break;
        // Let the writers finish what they are in the middle of.
        freezer?.resume();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      // Even after a failure, what was kept stands in for a torn file and what was not is not trusted.
      this.captured = captured;
      this.signalledAt = Date.now();
    }
    trace(() => `capture done: ${[...captured].map(([p, c]) => `${p}:${c.seen.size}@${c.seen.mtimeMs % 100000}`).join(" ")}`);
  }

  /**
   * Stops the timer and sends everything not yet in the store; the job's
   * processes must have stopped. After a `capture`, a file last changed
   * around the moment the job was signalled was being written by a process
   * the signal killed: it may be torn, so the captured copy goes instead
   * (and is put back on disk). A file changed well after the signal was
   * written by a live process on purpose (a save on SIGTERM) and goes as is.
   */
  async flush(): Promise<void> {
    clearInterval(this.timer);
    await this.scanning.catch(() => undefined);
    await this.scan(true);
  }

  /** One pass: upload files that changed (and, unless `final`, held still since the last pass), then commit. */
  private async scan(final: boolean): Promise<void> {
    const { store, dir } = this.o;
    const current = await listFiles(dir);
    const files = { ...this.manifest.files };
    let changed = false;
    const changedFiles: [string, Seen][] = [];
    for (const [path, st] of current) {
      if (!sameStat(this.uploaded.get(path), st)) changedFiles.push([path, { size: st.size, mtimeMs: st.mtimeMs }]);
    }
    const candidates = final ? changedFiles : settledOnly(dir, changedFiles);
    // A few uploads at once: a flush after a notice has seconds, not minutes.
    let suspect = false;
    await inParallel(candidates, UPLOADS_AT_ONCE, async ([path, latest]) => {
      let seen = latest;
      let body: Buffer | undefined;
      const captured = final ? this.captured : undefined;
      const kept = captured?.get(path);
      // Trusted as on disk: no stop happened, the capture saw this very state, or a live process wrote it well after the signal.
      const tornSuspect = captured !== undefined && !(kept && sameStat(kept.seen, latest)) && latest.mtimeMs <= this.signalledAt + SIGNAL_WINDOW_MS;
      if (final) trace(() => `flush: ${path}:${latest.size}@${latest.mtimeMs % 100000} kept ${kept ? `${kept.seen.size}@${kept.seen.mtimeMs % 100000}` : "-"} captured ${captured ? "yes" : "no"} signalled@${this.signalledAt % 100000} torn-suspect ${tornSuspect}`);
      if (tornSuspect) {
        if (!kept) {
          suspect = true; // changed only after the stop began, by a process then killed
          return;
        }
        // Changed after the capture by a dying process: the captured copy is the last complete one.
        await writeFileAtomic(join(dir, path), kept.body);
        const st = await fs.stat(join(dir, path));
        seen = { size: st.size, mtimeMs: st.mtimeMs };
        body = kept.body;
      } else {
        body = await readUnchanged(join(dir, path), seen);
        if (!body) return; // deleted or written while read: next pass
      }
      const hash = sha256(body);
      if (files[path]?.sha256 !== hash) {
        await store.put(`${BLOBS}${hash}`, body, { ifAbsent: true, sha256: hash }).catch((e) => {
          if (!(e instanceof PreconditionFailed)) throw e; // the same content is already there
        });
        files[path] = { sha256: hash, size: body.length };
        changed = true;
      }
      this.uploaded.set(path, seen);
    });
    for (const path of Object.keys(files)) {
      if (!current.has(path)) {
        delete files[path];
        this.uploaded.delete(path);
        changed = true;
      }
    }
    // A suspect file stays on disk as the dying process left it: this machine's copy is no longer to be trusted over the store's.
    if (suspect) await fs.rm(this.o.syncedMarker, { force: true });
    if (!changed) return;
    const next: SnapshotManifest = { v: 1, files };
    const body = Buffer.from(JSON.stringify(next));
    await store.put(MANIFEST_KEY, body);
    await writeFileAtomic(this.o.syncedMarker, sha256(body));
    const dropped = new Set(Object.values(this.manifest.files).map((f) => f.sha256));
    for (const f of Object.values(files)) dropped.delete(f.sha256);
    this.manifest = next;
    this.lastSyncAt = Date.now();
    // Blobs no file refers to any more go only after the manifest that dropped them is durable.
    for (const hash of dropped) await store.delete(`${BLOBS}${hash}`).catch(() => undefined);
  }
}

/** A file's contents, if it is still as `seen` after the read (else it was written meanwhile, or deleted). */
async function readUnchanged(file: string, seen: Seen): Promise<Buffer | undefined> {
  const body = await fs.readFile(file).catch(() => undefined);
  const after = await fs.stat(file).catch(() => undefined);
  return body && after && sameStat(seen, after) && after.size === body.length ? body : undefined;
}

/** Regular files under `dir`, by path relative to it (always with `/`). */
async function listFiles(dir: string): Promise<Map<string, Stats>> {
  const out = new Map<string, Stats>();
  const walk = async (at: string) => {
    const entries = await fs.readdir(at, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && !isTempFile(entry.name)) {
        const st = await fs.stat(full).catch(() => undefined);
        if (st) out.set(relative(dir, full).split(sep).join("/"), st);
      }
    }
  };
  await walk(dir);
  return out;
}

async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}
