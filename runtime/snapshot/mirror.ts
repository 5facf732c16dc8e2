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
import { constants, promises as fs, type Stats } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { isTempFile, syncDir, tempPathFor, writeFileAtomic } from "../store/local-dir";
import { openForWriting } from "./open-files";
import { PreconditionFailed, type Store } from "../store/store";
import { digestFile, inParallel, partSizeFor, sha256File, type FileDigest } from "../store/transfer";

export const SNAPSHOT_PREFIX = "snapshot/";
export const MANIFEST_KEY = `${SNAPSHOT_PREFIX}manifest.json`;
const BLOBS = `${SNAPSHOT_PREFIX}blobs/`;
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
/**
 * The stop copy of a file up to this size is a copy (a reflink where the
 * filesystem has them); of a larger one, a reflink or else a hard link,
 * taken in no time while the job is paused. A hard link keeps the old
 * contents when the writer replaces the file (write a temporary, rename),
 * which is how large checkpoints are usually saved; a writer that rewrites
 * the same inode changes the link too, which the flush detects (the link's
 * stat moved) and reports.
 */
const STOP_COPY_LINK_BYTES = 256 * 1024 * 1024;
/**
 * Files up to this size are read whole and sent from memory (one read, where
 * streaming costs a second); larger ones stream from disk. With
 * UPLOADS_AT_ONCE uploads, the flush holds at most 8 x 16 MiB whatever the
 * checkpoint's size.
 */
const SMALL_FILE_BYTES = 16 * 1024 * 1024;
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

/** Files of the snapshot directory that could not be read: they are not in the store. */
export class SnapshotUnreadableError extends Error {
  constructor(
    readonly store: string,
    readonly problems: Map<string, string>,
  ) {
    super(`${[...problems].map(([path, why]) => `snapshot file ${path} could not be saved to ${store}: ${why}`).join("; ")}`);
    this.name = "SnapshotUnreadableError";
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
  /** Where the stop copy is kept, on the snapshot directory's filesystem (default: beside `syncedMarker`). */
  stopCopyDir?: string;
  /** How often the directory is scanned for changes. */
  pollMs?: number;
  onWarning?: (message: string) => void;
}

interface Seen {
  size: number;
  mtimeMs: number;
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
/** What a user can do about a file that cannot be read, by its error. */
const advice = (e: NodeJS.ErrnoException) =>
  e.code === "EACCES" || e.code === "EPERM"
    ? "make it readable by the runtime's user, or move it out of $SWEEP_SNAPSHOT_DIR"
    : e.code === "ENAMETOOLONG"
      ? "shorten its path"
      : "check the disk, or move it out of $SWEEP_SNAPSHOT_DIR";
const unreadable = (e: NodeJS.ErrnoException) => `cannot be read (${e.message}); it is not in the store: ${advice(e)}`;
const sameStat = (a: Seen | undefined, b: Seen) => a !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs;

export class SnapshotMirror {
  private manifest: SnapshotManifest = { v: 1, files: {} };
  /** The stat of each file as last uploaded. */
  private uploaded = new Map<string, Seen>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> = Promise.resolve();
  /** On-disk copies of changed files at the quiet moment before a stop signal went to the job (see `capture`). */
  private captured: Map<string, { copy: string; seen: Seen; linked: boolean }> | undefined;
  /** Files that cannot be read or cannot be mirrored, with the reason: reported, never skipped in silence. */
  private problems = new Map<string, { message: string; fatal: boolean }>();
  private reported = new Set<string>();
  private stopping = false;
  /** When the stop signal went to the job (wall clock, as file mtimes are). */
  private signalledAt = 0;
  /** Time of the last successful upload of a change (for the flush bench). */
  lastSyncAt = 0;

  constructor(private readonly o: SnapshotMirrorOptions) {}

  private get stopCopyDir(): string {
    return this.o.stopCopyDir ?? `${this.o.syncedMarker}.stop-copy`;
  }

  /** Records a file that could not be mirrored; each distinct problem is reported once. */
  private problem(path: string, message: string, fatal: boolean): void {
    this.problems.set(path, { message, fatal });
    const said = `${path}\0${message}`;
    if (this.reported.has(said)) return;
    this.reported.add(said);
    this.o.onWarning?.(`snapshot file ${path}: ${message}`);
  }

  /** Brings the directory to the store's last committed state; returns how many files came back. */
  async restore(): Promise<number> {
    const { store, dir } = this.o;
    await fs.mkdir(dir, { recursive: true });
    await fs.rm(this.stopCopyDir, { recursive: true, force: true }); // a crashed run's
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
    // Each blob streams to a temporary file beside its place, hashed from disk; only when all pass are they renamed in.
    const fetched: [string, string][] = [];
    try {
      for (const [path, entry] of Object.entries(manifest.files)) {
        const local = join(dir, path);
        const existing = await fs.stat(local).catch(() => undefined);
        if (existing?.isFile() && existing.size === entry.size && (await sha256File(local).catch(() => undefined)) === entry.sha256) continue;
        await fs.mkdir(dirname(local), { recursive: true });
        const temp = tempPathFor(local);
        fetched.push([local, temp]);
        if (!(await store.getToFile(`${BLOBS}${entry.sha256}`, temp))) throw new SnapshotCorruptError(store.url, path, `blob ${entry.sha256} is missing`);
        const actual = await sha256File(temp);
        if (actual !== entry.sha256) throw new SnapshotCorruptError(store.url, path, `sha256 ${actual}, manifest says ${entry.sha256}`);
      }
      for (const [local, temp] of fetched) {
        await fs.rename(temp, local);
        await syncDir(dirname(local));
      }
    } catch (e) {
      await Promise.all(fetched.map(([, temp]) => fs.rm(temp, { force: true })));
      throw e;
    }
    this.manifest = manifest;
    await writeFileAtomic(this.o.syncedMarker, sha256(object.body));
    for (const path of Object.keys(manifest.files)) {
      const st = await fs.stat(join(dir, path));
      this.uploaded.set(path, { size: st.size, mtimeMs: st.mtimeMs });
    }
    return fetched.length;
  }

  /** Failed scans since the last good one: a store that stays down is said once, not at every poll. */
  private failing: { message: string; since: string; count: number } | undefined;

  private scanFailed(message: string): void {
    if (this.failing?.message !== message) this.o.onWarning?.(`snapshot mirror: ${message} (will retry; said again only if the error changes)`);
    this.failing = { message, since: this.failing?.since ?? new Date().toISOString(), count: (this.failing?.count ?? 0) + 1 };
  }

  private scanned(): void {
    if (!this.failing) return;
    this.o.onWarning?.(`snapshot mirror: the store takes changes again, after ${this.failing.count} failed attempt(s) since ${this.failing.since}`);
    this.failing = undefined;
  }

  /** Starts mirroring changes as they settle. */
  start(): void {
    const tick = () => {
      // Once a stop began, the capture and the flush own the directory (a paused writer's file only looks settled).
      if (this.stopping) return;
      this.scanning = this.scanning.then(() => this.scan(false)).then(
        () => this.scanned(),
        (e: unknown) => this.scanFailed((e as Error).message),
      );
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
    const captured = new Map<string, { copy: string; seen: Seen; linked: boolean }>();
    const copyDir = this.stopCopyDir;
    await fs.rm(copyDir, { recursive: true, force: true });
    await fs.mkdir(copyDir, { recursive: true });
    let copies = 0;
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
            const kept = await keepCopy(join(this.o.dir, path), join(copyDir, String(++copies)), seen).catch((e: NodeJS.ErrnoException) => {
              // Unreadable: said now, as the flush may never read it (a file changed at the signal is not trusted).
              if (e.code !== "ENOENT") this.problem(path, unreadable(e), true);
              return undefined;
            });
            if (kept) {
              const before = captured.get(path);
              if (before) await fs.rm(before.copy, { force: true });
              captured.set(path, { ...kept, seen });
            }
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
    try {
      await this.scan(true);
    } finally {
      this.captured = undefined;
      await fs.rm(this.stopCopyDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** One pass: upload files that changed (and, unless `final`, held still since the last pass), then commit. */
  private async scan(final: boolean): Promise<void> {
    const { store, dir } = this.o;
    const odd = new Map<string, { message: string; fatal: boolean }>();
    const current = await listFiles(dir, odd);
    // Problems are those of this pass: a file fixed or gone since is no longer one.
    for (const path of [...this.problems.keys()]) if (!current.has(path)) this.problems.delete(path);
    for (const [path, p] of odd) this.problem(path, p.message, p.fatal);
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
      const file = join(dir, path);
      let seen = latest;
      const captured = final ? this.captured : undefined;
      let kept = captured?.get(path);
      if (kept?.linked) {
        // A hard-linked stop copy is only as good as its inode: a writer that rewrote the file in place changed it too.
        const now = await fs.stat(kept.copy).catch(() => undefined);
        if (!now || !sameStat(kept.seen, now)) {
          this.o.onWarning?.(`snapshot file ${path}: rewritten in place after the stop began, so its stop copy (a hard link, the file being over ${STOP_COPY_LINK_BYTES >> 20} MiB) changed with it; it is sent only if it was written after the signal`);
          kept = undefined;
        }
      }
      // Trusted as on disk: no stop happened, the capture saw this very state, or a live process wrote it well after the signal.
      const tornSuspect = captured !== undefined && !(kept && sameStat(kept.seen, latest)) && latest.mtimeMs <= this.signalledAt + SIGNAL_WINDOW_MS;
      if (final) trace(() => `flush: ${path}:${latest.size}@${latest.mtimeMs % 100000} kept ${kept ? `${kept.seen.size}@${kept.seen.mtimeMs % 100000}${kept.linked ? " (link)" : ""}` : "-"} captured ${captured ? "yes" : "no"} signalled@${this.signalledAt % 100000} torn-suspect ${tornSuspect}`);
      if (tornSuspect) {
        if (!kept) {
          suspect = true; // changed only after the stop began, by a process then killed
          return;
        }
        // Changed after the capture by a dying process: the stop copy is the last complete one; it goes back in place.
        await putBack(kept.copy, file);
        captured!.delete(path);
        const st = await fs.stat(file);
        seen = { size: st.size, mtimeMs: st.mtimeMs };
      }
      let read: { digest: FileDigest; body?: Buffer } | undefined;
      try {
        read = await readUnchanged(file, seen);
      } catch (e) {
        this.problem(path, unreadable(e as NodeJS.ErrnoException), true);
        return;
      }
      if (!read) return; // deleted or written while read: next pass
      this.problems.delete(path);
      const { digest, body } = read;
      if (files[path]?.sha256 !== digest.sha256) {
        const key = `${BLOBS}${digest.sha256}`;
        let created = false;
        try {
          await (body ? store.put(key, body, { ifAbsent: true, sha256: digest.sha256 }) : store.putFile(key, file, digest, { ifAbsent: true }));
          created = true;
        } catch (e) {
          if (!(e instanceof PreconditionFailed)) {
            // Deleted or rewritten while it was sent (its stream failed): the next pass sends it again.
            if (!sameStat(seen, (await fs.stat(file).catch(() => undefined)) ?? { size: -1, mtimeMs: -1 })) return;
            throw e;
          }
          // else the same content is already there
        }
        const after = await fs.stat(file).catch(() => undefined);
        if (!after || !sameStat(seen, after)) {
          // Written while it was sent: what went may not be these bytes; not kept under their hash.
          if (created) await store.delete(key).catch(() => undefined);
          return;
        }
        files[path] = { sha256: digest.sha256, size: digest.size };
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
    if (changed) await this.commit(files);
    if (final) {
      const fatal = new Map([...this.problems].filter(([, p]) => p.fatal).map(([path, p]) => [path, p.message]));
      if (fatal.size) throw new SnapshotUnreadableError(store.url, fatal);
    }
  }

  private async commit(files: SnapshotManifest["files"]): Promise<void> {
    const { store } = this.o;
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

/**
 * What a file holds, if it is still as `seen` after the read (undefined when
 * it was written meanwhile or deleted): up to SMALL_FILE_BYTES its bytes and
 * their digest (one read, sent from memory: the fast path for the many small
 * files of a flush); larger, its digest from one streamed pass, to be sent
 * streamed from disk. Any other error (EACCES, EIO, ...) is thrown: the
 * file cannot be read.
 */
async function readUnchanged(file: string, seen: Seen): Promise<{ digest: FileDigest; body?: Buffer } | undefined> {
  let read: { digest: FileDigest; body?: Buffer };
  try {
    if (seen.size <= SMALL_FILE_BYTES) {
      const body = await fs.readFile(file);
      const hash = sha256(body);
      read = { body, digest: { sha256: hash, size: body.length, partSize: partSizeFor(body.length), parts: [hash] } };
    } else {
      read = { digest: await digestFile(file) };
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const after = await fs.stat(file).catch(() => undefined);
  return after && sameStat(seen, after) && after.size === read.digest.size ? read : undefined;
}

/**
 * An on-disk copy of `file` at `copy` (same filesystem), if the file is still
 * as `seen` after it: a reflink or copy up to STOP_COPY_LINK_BYTES, a reflink
 * or else a hard link above (see there). Nothing passes through memory.
 */
async function keepCopy(file: string, copy: string, seen: Seen): Promise<{ copy: string; linked: boolean } | undefined> {
  let linked = false;
  if (seen.size <= STOP_COPY_LINK_BYTES) {
    await fs.copyFile(file, copy, constants.COPYFILE_FICLONE);
  } else {
    try {
      await fs.copyFile(file, copy, constants.COPYFILE_FICLONE_FORCE);
    } catch {
      await fs.link(file, copy);
      linked = true;
    }
  }
  const after = await fs.stat(file).catch(() => undefined);
  if (!after || !sameStat(seen, after)) {
    await fs.rm(copy, { force: true });
    return undefined;
  }
  return { copy, linked };
}

/** Puts a stop copy back in place of a torn file (renamed in, or copied across filesystems), durably. */
async function putBack(copy: string, file: string): Promise<void> {
  try {
    await fs.rename(copy, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
    const temp = tempPathFor(file);
    await fs.copyFile(copy, temp);
    await fs.rename(temp, file);
  }
  await syncDir(dirname(file));
}

/**
 * Regular files under `dir`, by path relative to it (always with `/`).
 * What cannot be listed or mirrored (an unreadable folder, a link, a FIFO)
 * goes into `odd` with the reason, to be reported rather than skipped.
 */
async function listFiles(dir: string, odd?: Map<string, { message: string; fatal: boolean }>): Promise<Map<string, Stats>> {
  const out = new Map<string, Stats>();
  const rel = (full: string) => relative(dir, full).split(sep).join("/");
  const walk = async (at: string) => {
    let entries;
    try {
      entries = await fs.readdir(at, { withFileTypes: true });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== "ENOENT" && at !== dir) odd?.set(`${rel(at)}/`, { message: `this folder cannot be read (${err.message}); nothing in it is in the store: ${advice(err)}`, fatal: true });
      return;
    }
    for (const entry of entries) {
      const full = join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && !isTempFile(entry.name)) {
        try {
          out.set(rel(full), await fs.stat(full));
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          if (err.code !== "ENOENT") odd?.set(rel(full), { message: unreadable(err), fatal: true });
        }
      } else if (!entry.isFile()) {
        const kind = entry.isSymbolicLink() ? "a symbolic link" : entry.isFIFO() ? "a named pipe" : entry.isSocket() ? "a socket" : "not a regular file";
        odd?.set(rel(full), { message: `is ${kind}: only regular files are mirrored, so it is not in the store`, fatal: false });
      }
    }
  };
  await walk(dir);
  return out;
}
