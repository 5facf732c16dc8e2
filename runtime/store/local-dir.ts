/**
 * A store in a local directory. Every put writes a unique temporary name,
 * fsyncs it, renames it into place and fsyncs the directory, so a crash at
 * any instant leaves the old object or the new one, never a torn one. A
 * failure on the store's own files (not the caller's) is a StoreError that
 * says which directory and what to do; none is retried (none would pass).
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fs, constants } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import { localProblem } from "./problems";
import { PreconditionFailed, StoreError, type PutCondition, type Store, type StoredObject } from "./store";
import type { FileDigest } from "./transfer";

const TEMP_SUFFIX = ".spotjob-tmp";

export class LocalDirStore implements Store {
  readonly url: string;
  /** Serialises conditional puts in this process (rename is atomic, check-then-rename is not). */
  private locks = new Map<string, Promise<unknown>>();

  constructor(readonly root: string) {
    this.url = root;
  }

  private path(key: string): string {
    if (key.split("/").some((part) => part === ".." || part === "") || key.startsWith("/")) throw new Error(`invalid store key ${key}`);
    return join(this.root, ...key.split("/"));
  }

  /**
   * A failure on the store's own files, said with its fix; anything else (a
   * lost precondition, a bug) as it is. The error's own path is the most
   * precise (the very folder mkdir could not make), except a copy's, which
   * names two files: then `path`, the store's one.
   */
  private async fail(e: unknown, what: string, access: "read" | "write", path: string): Promise<never> {
    if (e instanceof PreconditionFailed || e instanceof StoreError || !isErrno(e)) throw e;
    throw await localProblem(this.url, what, access, e, e.syscall === "copyfile" ? path : ((e as { dest?: string }).dest ?? e.path ?? path));
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const path = this.path(key);
    try {
      const body = await fs.readFile(path);
      return { body, version: versionOf(body) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      return this.fail(e, `get ${key}`, "read", path);
    }
  }

  async put(key: string, body: Buffer | string, condition: PutCondition = {}): Promise<{ version: string }> {
    const data = typeof body === "string" ? Buffer.from(body) : body;
    const target = this.path(key);
    const run = async () => {
      await makeDirs(dirname(target));
      if (condition.ifAbsent && (await exists(target))) throw new PreconditionFailed(this.url, key);
      if (condition.ifVersion !== undefined && (await this.get(key))?.version !== condition.ifVersion) throw new PreconditionFailed(this.url, key);
      const temp = `${target}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`;
      const handle = await fs.open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await this.moveIntoPlace(temp, target, key, condition.ifAbsent);
      } finally {
        await fs.rm(temp, { force: true });
      }
      // A caller's SHA-256 is the version already: no second pass over a large body.
      return { version: condition.sha256 ? versionFromSha256(condition.sha256) : versionOf(data) };
    };
    return this.serialise(target, () => run().catch((e) => this.fail(e, `put ${key}`, "write", target)));
  }

  /**
   * A file of any size: copied in the kernel (a reflink where the filesystem
   * has them) to a unique temporary name, fsynced, then linked (create-only)
   * or renamed into place; nothing passes through this process's memory.
   */
  async putFile(key: string, file: string, digest: FileDigest, condition: { ifAbsent?: boolean } = {}): Promise<{ version: string }> {
    const target = this.path(key);
    const what = `put ${key} (${file})`;
    return this.serialise(target, async () => {
      await makeDirs(dirname(target)).catch((e) => this.fail(e, what, "write", target));
      if (condition.ifAbsent && (await exists(target).catch((e) => this.fail(e, what, "read", target)))) throw new PreconditionFailed(this.url, key);
      const temp = `${target}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`;
      try {
        // The caller's file failing to read is the caller's error; the copy failing to be written is the store's.
        await fs.copyFile(file, temp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE).catch(async (e) => {
          if (await fs.access(file, constants.R_OK).then(() => false, () => true)) throw e;
          return this.fail(e, what, "write", temp);
        });
        const handle = await fs.open(temp, "r+");
        try {
          await handle.sync();
          const size = (await handle.stat()).size;
          if (size !== digest.size) throw new Error(`${file} is ${size} bytes, ${digest.size} were hashed: it changed while it was copied`);
        } finally {
          await handle.close();
        }
        await this.moveIntoPlace(temp, target, key, condition.ifAbsent).catch((e) => this.fail(e, what, "write", target));
      } finally {
        await fs.rm(temp, { force: true });
      }
      return { version: versionFromSha256(digest.sha256) };
    });
  }

  /** A complete, fsynced temporary file becomes `target`, durably: linked when create-only (link fails on an existing target, even against other processes), else renamed. */
  private async moveIntoPlace(temp: string, target: string, key: string, ifAbsent: boolean | undefined): Promise<void> {
    if (ifAbsent) {
      try {
        await fs.link(temp, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new PreconditionFailed(this.url, key);
        throw e;
      }
    } else {
      await fs.rename(temp, target);
    }
    await syncDir(dirname(target));
  }

  async getToFile(key: string, file: string): Promise<boolean> {
    const source = this.path(key);
    try {
      await fs.copyFile(source, file, constants.COPYFILE_FICLONE);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT" && !(await exists(dirname(file)))) throw e;
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      // The caller's file failing to be written is the caller's error; the object failing to be read is the store's.
      if (await fs.access(source, constants.R_OK).then(() => true, () => false)) throw e;
      return this.fail(e, `get ${key}`, "read", source);
    }
    const handle = await fs.open(file, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    return true;
  }

  private async serialise<T>(target: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(target) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    this.locks.set(target, next.catch(() => undefined));
    try {
      return await next;
    } finally {
      if (this.locks.get(target) === next) this.locks.delete(target);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
        return this.fail(e, `list ${prefix || "(all)"}`, "read", dir);
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (!entry.name.endsWith(TEMP_SUFFIX)) out.push(relative(this.root, full).split(sep).join("/"));
      }
    };
    const base = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    await walk(base ? this.path(base) : this.root);
    return out.filter((k) => k.startsWith(prefix)).sort();
  }

  async listFolders(prefix: string): Promise<string[]> {
    const dir = prefix ? this.path(prefix.replace(/\/$/, "")) : this.root;
    try {
      return (await fs.readdir(dir, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      return this.fail(e, `list the folders in ${prefix || "(all)"}`, "read", dir);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    await fs.rm(path, { force: true }).catch((e) => this.fail(e, `delete ${key}`, "write", path));
  }
}

function versionOf(body: Buffer): string {
  return versionFromSha256(createHash("sha256").update(body).digest("hex"));
}

const versionFromSha256 = (hex: string) => hex.slice(0, 32);

const isErrno = (e: unknown): e is NodeJS.ErrnoException => typeof (e as NodeJS.ErrnoException)?.code === "string" && typeof (e as NodeJS.ErrnoException)?.syscall === "string";

/**
 * `mkdir -p` that always ends. Node's own (`recursive: true`) retries for
 * ever when mkdir says ENOENT under a parent that exists (procfs does): a
 * store at file:///proc/nope spun at full CPU. Here each level is tried at
 * most twice; a second ENOENT is final.
 */
export async function makeDirs(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return mustBeDirectory(dir);
    if (code !== "ENOENT" || dirname(dir) === dir) throw e;
  }
  await makeDirs(dirname(dir));
  try {
    await fs.mkdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return mustBeDirectory(dir); // made meanwhile by another writer
    throw e;
  }
}

/** `dir` exists: it must be a directory (a link to one will do); stat's ENOENT says it is a link to nowhere. */
async function mustBeDirectory(dir: string): Promise<void> {
  if (!(await fs.stat(dir)).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: "ENOTDIR", syscall: "mkdir", path: dir });
}

const exists = (path: string) => fs.stat(path).then(
  () => true,
  (e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? false : Promise.reject(e)),
);

export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a whole file so that a crash leaves the old contents or the new, never a mix. */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  await makeDirs(dirname(path));
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString("hex")}${TEMP_SUFFIX}`);
  const handle = await fs.open(temp, "w", 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, path);
  await syncDir(dirname(path));
}

/** A unique temporary name beside `path` that directory listings skip (see `isTempFile`). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString("hex")}${TEMP_SUFFIX}`);
}

/** Whether a file name is one of the temporary files an atomic write leaves while it runs. */
export function isTempFile(name: string): boolean {
  return name.endsWith(TEMP_SUFFIX);
}
