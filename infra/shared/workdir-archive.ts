/**
 * Packs a job's `workdir` into a .tar.gz for the job's bucket, leaving out
 * what git would leave out.
 *
 * What is packed: every regular file and symlink under `dir` that is not
 * ignored by
 *   - a `.gitignore` at the root or in any subdirectory, each applying
 *     relative to its own directory, deeper files taking precedence, as git
 *     does (negations included, and git's rule that nothing inside an
 *     excluded directory can be re-included, since an excluded directory is
 *     never entered);
 *   - a `.spotjobignore` at the root (same syntax), which takes precedence
 *     over every `.gitignore`: it can leave out files git tracks, and re-include
 *     (`!name`) files git ignores;
 *   - and never anything named `.git` or `.spotjob`, at any depth.
 * Patterns are case-sensitive, as git is on Linux. Symlinks are stored as
 * symlinks, never followed (a symlink to a directory is a file to the ignore
 * rules, as it is to git). Sockets, FIFOs and devices are skipped. Empty
 * directories are not kept, nor directory entries at all: extraction creates
 * the parents of each file.
 *
 * The archive is deterministic: the same paths, contents, exec bits and
 * symlink targets give a byte-identical file, so an unchanged workdir is not
 * uploaded again. Entries are sorted by path; every entry has mtime
 * 2000-01-01T00:00:00Z, uid/gid 0, no uname/gname, no atime/ctime/dev/ino;
 * file modes are 0644, or 0755 when the owner may execute (what git keeps);
 * hard links are stored as separate files; the gzip header has mtime 0 and OS
 * byte 255. (Byte identity across Node.js releases also needs the same bundled
 * zlib, since a different deflate implementation may compress differently.)
 */
import { createHash } from "node:crypto";
import { createReadStream, type Dirent, type Stats } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import ignore, { type Ignore } from "ignore";
import * as tar from "tar";
import { formatDiagnostic, type Diagnostic } from "../../core/jobspec/diagnostics";

export interface WorkdirArchiveOptions {
  /** Limit on the total size of the files to pack (uncompressed). Default 200 MiB. */
  maxBytes?: number;
  /** Where to write the archive; default a new temp dir. */
  outDir?: string;
}

export interface WorkdirArchive {
  /** Absolute path of the written `workdir.tar.gz`. */
  file: string;
  /** Hex sha256 of the archive file. */
  sha256: string;
  /** Size of the archive file (compressed). */
  bytes: number;
  /** Number of entries (files and symlinks) in the archive. */
  files: number;
}

export const DEFAULT_WORKDIR_MAX_BYTES = 200 * 1024 * 1024;

/** The name of the archive written into `outDir`. */
export const WORKDIR_ARCHIVE_NAME = "workdir.tar.gz";

/** The mtime of every entry: fixed, so that touching a file does not change the archive. */
const FIXED_MTIME = new Date(Date.UTC(2000, 0, 1));

/** How many of the largest files the size error names. */
const LARGEST_SHOWN = 5;

/** Never packed, and cannot be re-included. */
const ALWAYS_EXCLUDED = new Set([".git", ".spotjob"]);

/** Thrown by `packWorkdir` when the files to pack exceed `maxBytes`. */
export class WorkdirTooLargeError extends Error {
  readonly diagnostic: Diagnostic;
  constructor(
    readonly dir: string,
    /** Total size of the files that would be packed. */
    readonly total: number,
    readonly limit: number,
    /** The largest files, largest first. */
    readonly largest: { path: string; size: number }[],
    /** Whether more files exist than `largest` lists. */
    more: boolean,
  ) {
    const names = largest.map((f) => `${f.path} ${formatSize(f.size)}`).join(", ");
    const diagnostic: Diagnostic = {
      severity: "error",
      code: "workdir_too_large",
      message: `${formatSize(total)} to upload after .gitignore (limit ${formatSize(limit)}); largest: ${names}${more ? ", …" : ""}`,
      hint: "add them to .gitignore or .spotjobignore, or keep data in the bucket and fetch it in setup",
      file: dir,
      line: 0,
      column: 0,
      path: "workdir",
    };
    super(formatDiagnostic(diagnostic));
    this.name = "WorkdirTooLargeError";
    this.diagnostic = diagnostic;
  }
}

/** `150 MB` (MiB, whole above 10), `1.5 MB`, `12 KB`, `512 B`. */
function formatSize(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  if (mb >= 10) return `${Math.round(mb)} MB`;
  if (mb >= 1) return `${(Math.round(mb * 10) / 10).toString()} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} B`;
}

function workdirError(dir: string, code: string, message: string, hint?: string): Error {
  const err = new Error(formatDiagnostic({ severity: "error", code, message, hint, file: dir, line: 0, column: 0, path: "workdir" }));
  return Object.assign(err, { code });
}

interface Entry {
  path: string;
  /** Bytes of content; 0 for a symlink. */
  size: number;
  stat: Stats;
}

/** The list of relative paths that would be packed (sorted), for tests and `spotjob plan`. Symlinks count 0 bytes. */
export async function workdirFiles(dir: string): Promise<{ path: string; size: number }[]> {
  const entries = await collect(dir);
  return entries.map(({ path, size }) => ({ path, size }));
}

/**
 * Packs what `workdirFiles(dir)` lists into `<outDir>/workdir.tar.gz`.
 * Throws `WorkdirTooLargeError` before writing anything when the files add up
 * to more than `maxBytes`.
 */
export async function packWorkdir(dir: string, opts: WorkdirArchiveOptions = {}): Promise<WorkdirArchive> {
  const limit = opts.maxBytes ?? DEFAULT_WORKDIR_MAX_BYTES;
  const root = resolve(dir);
  let entries = await collect(dir);
  if (opts.outDir !== undefined) {
    // An earlier archive written inside the workdir must not be packed into the next one.
    const own = relative(root, join(resolve(opts.outDir), WORKDIR_ARCHIVE_NAME)).split(sep).join("/");
    entries = entries.filter((e) => e.path !== own);
  }
  const total = entries.reduce((sum, e) => sum + e.size, 0);
  if (total > limit) {
    const bySize = entries.filter((e) => e.size > 0).sort((a, b) => b.size - a.size || compare(a.path, b.path));
    const largest = bySize.slice(0, LARGEST_SHOWN).map(({ path, size }) => ({ path, size }));
    throw new WorkdirTooLargeError(dir, total, limit, largest, bySize.length > largest.length);
  }

  const outDir = opts.outDir !== undefined ? resolve(opts.outDir) : await mkdtemp(join(tmpdir(), "spotjob-workdir-"));
  const file = join(outDir, WORKDIR_ARCHIVE_NAME);
  await mkdir(outDir, { recursive: true });
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  let written = 0;
  const statCache = new Map<string, Stats>();
  for (const e of entries) {
    const st = e.stat;
    // Every file is stored in full, whichever paths happen to be hard links to each other.
    st.nlink = 1;
    // The mode git keeps: executable by the owner or not.
    if (st.isFile()) st.mode = (st.mode & ~0o7777) | (st.mode & 0o100 ? 0o755 : 0o644);
    statCache.set(join(root, e.path), st);
  }
  try {
    await tar.create(
      {
        file: temp,
        cwd: root,
        gzip: true,
        portable: true,
        mtime: FIXED_MTIME,
        noDirRecurse: true,
        strict: true,
        // tar packs these stats, not fresh ones: what was counted against the limit is what is packed.
        statCache,
        onWriteEntry(entry) {
          written++;
          // Paths go in as `./path` so that one starting with `@` is not read as an archive to merge.
          if (entry.path.startsWith("./")) entry.path = entry.path.slice(2);
        },
      },
      entries.map((e) => `./${e.path}`),
    );
    if (written !== entries.length) {
      throw workdirError(dir, "workdir_changed", `packed ${written} of ${entries.length} files`, "the workdir changed while it was packed; try again");
    }
    await rename(temp, file);
  } catch (err) {
    await rm(opts.outDir !== undefined ? temp : outDir, { recursive: true, force: true });
    throw err;
  }
  const { sha256, bytes } = await digest(file);
  return { file, sha256, bytes, files: entries.length };
}

async function digest(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** Code-unit order, the same on every machine and locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function collect(dir: string): Promise<Entry[]> {
  const root = resolve(dir);
  let isDir: boolean;
  try {
    isDir = (await stat(root)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw workdirError(dir, "workdir_missing", "no such directory", "set `workdir` to an existing folder (relative to the spec file)");
    }
    throw workdirError(dir, "workdir_unreadable", `cannot read: ${(err as Error).message}`);
  }
  if (!isDir) throw workdirError(dir, "workdir_not_a_directory", "is not a directory", "set `workdir` to the folder to upload");

  const spotRules = await readRules(root, "", ".spotjobignore");
  const out: Entry[] = [];

  const visit = async (relDir: string, gitRules: Rule[], matcher: Ignore): Promise<void> => {
    const abs = relDir ? join(root, relDir) : root;
    let dirents: Dirent[];
    try {
      dirents = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      throw workdirError(abs, "workdir_unreadable", `cannot read: ${(err as Error).message}`);
    }
    if (dirents.some((d) => d.name === ".gitignore" && d.isFile())) {
      gitRules = [...gitRules, ...(await readRules(root, relDir, ".gitignore"))];
      matcher = ignore({ ignorecase: false }).add([...gitRules, ...spotRules]);
    }
    for (const d of dirents.sort((a, b) => compare(a.name, b.name))) {
      if (ALWAYS_EXCLUDED.has(d.name)) continue;
      const rel = relDir ? `${relDir}/${d.name}` : d.name;
      if (d.isDirectory()) {
        if (!matcher.ignores(`${rel}/`)) await visit(rel, gitRules, matcher);
      } else if ((d.isFile() || d.isSymbolicLink()) && !matcher.ignores(rel)) {
        const st = await lstat(join(abs, d.name));
        out.push({ path: rel, size: st.isFile() ? st.size : 0, stat: st });
      }
      // Sockets, FIFOs and devices cannot be uploaded; they are skipped.
    }
  };
  await visit("", [], ignore({ ignorecase: false }).add(spotRules));
  return out.sort((a, b) => compare(a.path, b.path));
}

type Rule = { pattern: string; mark: string };

/** The rules of `<relDir>/<name>` when it is a regular file, rewritten to apply from the root. */
async function readRules(root: string, relDir: string, name: string): Promise<Rule[]> {
  const file = join(root, relDir, name);
  try {
    if (!(await lstat(file)).isFile()) return []; // git does not follow a symlinked .gitignore either
  } catch {
    return [];
  }
  const text = await readFile(file, "utf8");
  return ignoreRules(text, relDir, relDir ? `${relDir}/${name}` : name);
}

/**
 * The lines of an ignore file found in directory `base` (relative to the
 * root, "" for the root itself), as patterns that mean the same thing when
 * matched against root-relative paths: `foo` (no slash but a trailing one
 * matches at any depth) becomes `base/**\/foo`, and `foo/bar` or `/foo`
 * (anchored to the file's directory) becomes `base/foo/bar` or `base/foo`.
 * One matcher over every file's rules, deepest last, then gives git's answer:
 * the last matching rule decides, and a directory that any rule leaves out
 * takes its contents with it.
 */
function ignoreRules(text: string, base: string, source: string): Rule[] {
  const rules: Rule[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const prefix = base.replace(/[\\*?[\]!#]/g, "\\$&");
  lines.forEach((line, i) => {
    if (line.startsWith("#") || /^ *$/.test(line)) return;
    let pattern = line;
    if (base) {
      const negative = line.startsWith("!");
      const body = negative ? line.slice(1) : line;
      // The pattern as git sees it for the slash test: unescaped trailing spaces and one trailing slash removed.
      const core = body.replace(/(?<!\\) +$/, "").replace(/\/$/, "");
      if (core === "") return;
      const anchored = core.includes("/");
      pattern = `${negative ? "!" : ""}${prefix}/${anchored ? body.replace(/^\//, "") : `**/${body}`}`;
    }
    rules.push({ pattern, mark: `${source}:${i + 1}` });
  });
  return rules;
}
