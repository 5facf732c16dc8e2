/**
 * A store in a local directory. Every put writes a unique temporary name,
 * fsyncs it, renames it into place and fsyncs the directory, so a crash at
 * any instant leaves the old object or the new one, never a torn one.
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fs, constants } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import { PreconditionFailed, type PutCondition, type Store, type StoredObject } from "./store";
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

  async get(key: string): Promise<StoredObject | undefined> {
    try {
      const body = await fs.readFile(this.path(key));
      return { body, version: versionOf(body) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async put(key: string, body: Buffer | string, condition: PutCondition = {}): Promise<{ version: string }> {
    const data = typeof body === "string" ? Buffer.from(body) : body;
    const target = this.path(key);
    const run = async () => {
      await fs.mkdir(dirname(target), { recursive: true });
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
    return this.serialise(target, run);
  }

  /**
   * A file of any size: copied in the kernel (a reflink where the filesystem
   * has them) to a unique temporary name, fsynced, then linked (create-only)
   * or renamed into place; nothing passes through this process's memory.
   */
  async putFile(key: string, file: string, digest: FileDigest, condition: { ifAbsent?: boolean } = {}): Promise<{ version: string }> {
    const target = this.path(key);
    return this.serialise(target, async () => {
      await fs.mkdir(dirname(target), { recursive: true });
      if (condition.ifAbsent && (await exists(target))) throw new PreconditionFailed(this.url, key);
      const temp = `${target}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`;
      try {
        await fs.copyFile(file, temp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
        const handle = await fs.open(temp, "r+");
        try {
          await handle.sync();
          const size = (await handle.stat()).size;
          if (size !== digest.size) throw new Error(`${file} is ${size} bytes, ${digest.size} were hashed: it changed while it was copied`);
        } finally {
          await handle.close();
        }
        await this.moveIntoPlace(temp, target, key, condition.ifAbsent);
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
    try {
      await fs.copyFile(this.path(key), file, constants.COPYFILE_FICLONE);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT" && !(await exists(dirname(file)))) throw e;
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw e;
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
        throw e;
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

  async delete(key: string): Promise<void> {
    await fs.rm(this.path(key), { force: true });
  }
}

function versionOf(body: Buffer): string {
  return versionFromSha256(createHash("sha256").update(body).digest("hex"));
}

const versionFromSha256 = (hex: string) => hex.slice(0, 32);

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
  await fs.mkdir(dirname(path), { recursive: true });
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
