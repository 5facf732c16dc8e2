/**
 * Packing the workdir: what .gitignore / .spotjobignore leave out (checked
 * against real git where git has an opinion), what the archive holds (read
 * back with the system tar), that it is byte-for-byte reproducible, and the
 * errors.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packWorkdir, WorkdirTooLargeError, workdirFiles } from "../../infra/shared/workdir-archive";

const MiB = 1024 * 1024;
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempDir(prefix = "spotjob-workdir-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  roots.push(d);
  return d;
}

/** A file's content, a symlink, or a file with a mode. Keys ending in `/` are empty directories. */
type Node = string | { link: string } | { content: string; mode: number };

function build(tree: Record<string, Node>, into = tempDir()): string {
  for (const [rel, node] of Object.entries(tree)) {
    const abs = join(into, rel);
    if (rel.endsWith("/")) {
      mkdirSync(abs, { recursive: true });
      continue;
    }
    mkdirSync(dirname(abs), { recursive: true });
    if (typeof node === "string") writeFileSync(abs, node);
    else if ("link" in node) symlinkSync(node.link, abs);
    else {
      writeFileSync(abs, node.content);
      chmodSync(abs, node.mode);
    }
  }
  return into;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const hasGit = (() => {
  try {
    execFileSync("git", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** What git itself would add from `dir`: untracked files that no ignore file excludes. Creates `dir/.git`. */
function gitWouldAdd(dir: string): string[] {
  const home = tempDir("spotjob-git-home-");
  // No user or system config, no global excludes file: only the .gitignore files in `dir` count.
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, "none"), GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  execFileSync("git", ["init", "-q"], { cwd: dir, env });
  const out = execFileSync("git", ["ls-files", "-z", "--others", "--exclude-standard"], { cwd: dir, env });
  return out.toString("utf8").split("\0").filter(Boolean).sort(byCodeUnit);
}

interface Case {
  name: string;
  tree: Record<string, Node>;
  expected: string[];
  /** Compare with `git ls-files --others --exclude-standard` too (not where .spotjobignore or the built-in exclusions matter). */
  git: boolean;
}

const cases: Case[] = [
  {
    name: "root .gitignore: globs, directory-only and anchored patterns",
    tree: {
      ".gitignore": "*.log\nbuild/\n/top-only.txt\n",
      "a.log": "x",
      "sub/x.log": "x",
      "keep.txt": "k",
      "top-only.txt": "t",
      "sub/top-only.txt": "t",
      "build/out.o": "o",
      "sub/build/out.o": "o",
      "lib/build": "a file named build is not a directory",
    },
    expected: [".gitignore", "keep.txt", "lib/build", "sub/top-only.txt"],
    git: true,
  },
  {
    name: "a nested .gitignore applies relative to its own directory",
    tree: {
      "sub/.gitignore": "*.tmp\n/anchored.txt\ndeep/x.txt\n**/gen\n",
      "x.tmp": "x",
      "anchored.txt": "a",
      "gen": "g",
      "sub/a.tmp": "a",
      "sub/deeper/b.tmp": "b",
      "sub/anchored.txt": "a",
      "sub/deeper/anchored.txt": "a",
      "sub/deep/x.txt": "x",
      "sub/deeper/deep/x.txt": "x",
      "sub/gen": "g",
      "sub/q/gen": "g",
      "other/deep/x.txt": "x",
    },
    expected: ["anchored.txt", "gen", "other/deep/x.txt", "sub/.gitignore", "sub/deeper/anchored.txt", "sub/deeper/deep/x.txt", "x.tmp"],
    git: true,
  },
  {
    name: "negations, and a deeper file overriding a shallower one",
    tree: {
      ".gitignore": "*.bin\n!keep.bin\n",
      "sub/.gitignore": "!*.bin\nkeep.bin\n",
      "a.bin": "a",
      "keep.bin": "k",
      "deep/keep.bin": "k",
      "deep/b.bin": "b",
      "sub/c.bin": "c",
      "sub/keep.bin": "k",
      "sub/deeper/d.bin": "d",
    },
    expected: [".gitignore", "deep/keep.bin", "keep.bin", "sub/.gitignore", "sub/c.bin", "sub/deeper/d.bin"],
    git: true,
  },
  {
    name: "a file inside an ignored directory cannot be re-included (but one inside dir/* can)",
    tree: {
      ".gitignore": "data/\n!data/keep.txt\nlogs/*\n!logs/keep.txt\n",
      "data/keep.txt": "k",
      "data/x.txt": "x",
      "data/.gitignore": "!keep.txt\n",
      "logs/keep.txt": "k",
      "logs/x.txt": "x",
    },
    expected: [".gitignore", "logs/keep.txt"],
    git: true,
  },
  {
    name: "a deeper .gitignore can re-include a directory a shallower one leaves out",
    tree: {
      ".gitignore": "data/\n",
      "sub/.gitignore": "!data/\n",
      "data/x.txt": "x",
      "sub/data/x.txt": "x",
      "sub/data/nested/y.txt": "y",
    },
    expected: [".gitignore", "sub/.gitignore", "sub/data/nested/y.txt", "sub/data/x.txt"],
    git: true,
  },
  {
    name: "globstars",
    tree: {
      ".gitignore": "**/cache/\nlogs/**\na/**/b\n",
      "cache/x": "x",
      "deep/er/cache/y": "y",
      "logs/1.txt": "1",
      "logs/deep/2.txt": "2",
      "sub/logs/3.txt": "3",
      "a/b": "b",
      "a/x/y/b": "b",
      "a/c": "c",
      "x/a/b": "b",
    },
    expected: [".gitignore", "a/c", "sub/logs/3.txt", "x/a/b"],
    git: true,
  },
  {
    name: "comments, blank lines, CRLF, trailing spaces, escapes; case-sensitive",
    tree: {
      ".gitignore": "# a comment\r\n\r\n\\#hash.txt\r\ntrail.txt   \r\n*.LOG\r\nREADME\r\n",
      "# a comment": "a file with the comment's name is kept",
      "#hash.txt": "h",
      "trail.txt": "t",
      "a.log": "lower case is kept",
      "B.LOG": "B",
      "readme": "r",
      "README": "R",
    },
    expected: ["# a comment", ".gitignore", "a.log", "readme"],
    git: true,
  },
  {
    name: "directory names with glob characters in a nested .gitignore's path",
    tree: {
      "a[b]/.gitignore": "x\n",
      "a[b]/x": "x",
      "a[b]/y": "y",
      "ab/x": "x",
      "#hash/.gitignore": "x\n",
      "#hash/x": "x",
      "!bang/.gitignore": "x\n",
      "!bang/x": "x",
      "*star/.gitignore": "x\n",
      "*star/x": "x",
      "bigstar/x": "x",
      "q?/.gitignore": "x\n",
      "q?/x": "x",
      "qq/x": "x",
    },
    expected: ["!bang/.gitignore", "#hash/.gitignore", "*star/.gitignore", "a[b]/.gitignore", "a[b]/y", "ab/x", "bigstar/x", "q?/.gitignore", "qq/x"],
    git: true,
  },
  {
    name: "symlinks are entries of their own, never followed; a directory-only pattern does not match them",
    tree: {
      ".gitignore": "ignored-link\nlink-to-dir/\n",
      "target.txt": "t",
      "dir/inner.txt": "i",
      "link-to-file": { link: "target.txt" },
      "link-to-dir": { link: "dir" },
      "dangling": { link: "does/not/exist" },
      "ignored-link": { link: "target.txt" },
      "outside": { link: "/etc/hostname" },
    },
    expected: [".gitignore", "dangling", "dir/inner.txt", "link-to-dir", "link-to-file", "outside", "target.txt"],
    git: true,
  },
  {
    name: ".spotjobignore leaves out tracked files, re-includes ignored ones, and wins over every .gitignore",
    tree: {
      ".gitignore": "*.log\n",
      "sub/.gitignore": "!w.pt\n",
      ".spotjobignore": "*.pt\n!notes.log\ndatasets/\n",
      "model.pt": "m",
      "sub/w.pt": "w",
      "a.log": "a",
      "notes.log": "n",
      "datasets/big.csv": "b",
      "src/main.py": "p",
    },
    expected: [".gitignore", ".spotjobignore", "notes.log", "src/main.py", "sub/.gitignore"],
    git: false,
  },
  {
    name: ".git and .spotjob are always left out, even when re-included",
    tree: {
      ".spotjobignore": "!.git\n!.git/\n!.spotjob/\n",
      ".git/HEAD": "ref: refs/heads/main\n",
      ".git/config": "[core]\n",
      ".spotjob/demo/status.json": "{}",
      "sub/.git": "gitdir: ../.git/worktrees/sub\n",
      "sub/.spotjob/x": "x",
      "sub/code.py": "p",
      ".github/workflows/ci.yml": "on: push\n",
      ".gitmodules": "",
      ".gitignore": "",
    },
    expected: [".github/workflows/ci.yml", ".gitignore", ".gitmodules", ".spotjobignore", "sub/code.py"],
    git: false,
  },
];

describe("workdirFiles: what is packed", () => {
  it.each(cases)("$name", async ({ tree, expected }) => {
    const dir = build(tree);
    const files = await workdirFiles(dir);
    expect(files.map((f) => f.path)).toEqual(expected);
  });

  it.skipIf(!hasGit).each(cases.filter((c) => c.git))("agrees with git: $name", async ({ tree, expected }) => {
    const dir = build(tree);
    const ours = (await workdirFiles(dir)).map((f) => f.path);
    expect(gitWouldAdd(dir)).toEqual(ours);
    expect(ours).toEqual(expected);
  });

  it("gives file sizes; a symlink counts 0", async () => {
    const dir = build({ "a.bin": "x".repeat(1234), "sub/b.txt": "", "l": { link: "a.bin" } });
    expect(await workdirFiles(dir)).toEqual([
      { path: "a.bin", size: 1234 },
      { path: "l", size: 0 },
      { path: "sub/b.txt", size: 0 },
    ]);
  });

  it("sorts by path as a whole, not directory by directory", async () => {
    const dir = build({ "a/x": "1", "a-b": "2", "a.c": "3", "B": "4" });
    expect((await workdirFiles(dir)).map((f) => f.path)).toEqual(["B", "a-b", "a.c", "a/x"]);
  });
});

/** Every file and symlink under `dir` (no directories), relative, sorted. */
function walk(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(dir, r));
    if (st.isDirectory()) out.push(...walk(dir, r));
    else out.push(r);
  }
  return out.sort(byCodeUnit);
}

const longDir = "d".repeat(120);
const longName = "f".repeat(120);
const packTree: Record<string, Node> = {
  ".gitignore": "*.log\nbuild/\n",
  "sub/.gitignore": "!keep.log\n",
  "a.txt": "alpha\n",
  "run.sh": { content: "#!/bin/sh\necho hi\n", mode: 0o700 },
  "private.txt": { content: "secret-ish\n", mode: 0o600 },
  "group-writable.txt": { content: "g\n", mode: 0o664 },
  "binary.bin": "\u0000\u0001\u0002\u00ff binary-ish \r\n\u0000",
  "@at-sign": "not an archive to merge\n",
  "ünïcödé.txt": "u\n",
  "with space.txt": "s\n",
  [`${longDir}/${longName}`]: "a path longer than ustar's 100+155\n",
  "sub/keep.log": "kept by the nested negation\n",
  "sub/drop.log": "dropped\n",
  "build/out.o": "dropped\n",
  "empty/": "",
  "empty-file": "",
  "link": { link: "a.txt" },
  "sub/up": { link: "../a.txt" },
  ".git/HEAD": "ref: refs/heads/main\n",
};
const packExpected = [
  ".gitignore",
  "@at-sign",
  "a.txt",
  "binary.bin",
  `${longDir}/${longName}`,
  "empty-file",
  "group-writable.txt",
  "link",
  "private.txt",
  "run.sh",
  "sub/.gitignore",
  "sub/keep.log",
  "sub/up",
  "ünïcödé.txt",
  "with space.txt",
].sort(byCodeUnit);

describe("packWorkdir: the archive", () => {
  it("holds exactly the listed files, byte for byte, read back with the system tar", async () => {
    const dir = build(packTree);
    const out = tempDir();
    const archive = await packWorkdir(dir, { outDir: out });
    expect(archive.file).toBe(join(out, "workdir.tar.gz"));
    expect(archive.files).toBe(packExpected.length);
    expect(archive.bytes).toBe(statSync(archive.file).size);
    expect(archive.sha256).toBe(createHash("sha256").update(readFileSync(archive.file)).digest("hex"));

    const listed = execFileSync("tar", ["-tzf", archive.file]).toString("utf8").split("\n").filter(Boolean);
    expect(listed).toEqual(packExpected); // in this order: sorted entries, no directory entries, no ./ prefix

    const x = tempDir();
    execFileSync("tar", ["-xzf", archive.file, "-C", x]);
    expect(walk(x)).toEqual(packExpected);
    for (const rel of packExpected) {
      const src = lstatSync(join(dir, rel));
      const got = lstatSync(join(x, rel));
      if (src.isSymbolicLink()) {
        expect(got.isSymbolicLink(), rel).toBe(true);
        expect(readlinkSync(join(x, rel)), rel).toBe(readlinkSync(join(dir, rel)));
      } else {
        expect(got.isFile(), rel).toBe(true);
        expect(readFileSync(join(x, rel)).equals(readFileSync(join(dir, rel))), rel).toBe(true);
      }
    }
  });

  it("stores portable metadata: 0644 or 0755 (owner exec), uid/gid 0, no names, mtime 2000-01-01", async () => {
    const dir = build(packTree);
    const { file } = await packWorkdir(dir, { outDir: tempDir() });
    const lines = execFileSync("tar", ["--numeric-owner", "--full-time", "-tvzf", file], { env: { ...process.env, TZ: "UTC" } })
      .toString("utf8")
      .split("\n")
      .filter(Boolean);
    const meta = new Map(lines.map((l) => {
      const [mode, owner, , date, time] = l.split(/\s+/);
      return [l.slice(l.indexOf(time) + time.length).trim().replace(/ -> .*$/, ""), { mode, owner, when: `${date} ${time}` }];
    }));
    expect(meta.get("run.sh")?.mode).toBe("-rwxr-xr-x");
    expect(meta.get("private.txt")?.mode).toBe("-rw-r--r--");
    expect(meta.get("group-writable.txt")?.mode).toBe("-rw-r--r--");
    expect(meta.get("a.txt")?.mode).toBe("-rw-r--r--");
    expect(meta.get("link")?.mode?.[0]).toBe("l");
    for (const [name, m] of meta) {
      expect(m.owner, name).toBe("0/0");
      expect(m.when, name).toBe("2000-01-01 00:00:00");
    }
    // No user or group names, no atime/ctime anywhere in the raw tar.
    const raw = execFileSync("gzip", ["-dc", file]);
    const user = process.env.USER ?? "";
    if (user) expect(raw.includes(Buffer.from(`\0${user}\0`)) || raw.includes(Buffer.from(`${user}\0`))).toBe(false);
    expect(raw.includes(Buffer.from("atime="))).toBe(false);
    expect(raw.includes(Buffer.from("ctime="))).toBe(false);
    // gzip header: no mtime (bytes 4..7 zero).
    expect(readFileSync(file).subarray(4, 8)).toEqual(Buffer.alloc(4));
  });

  it("is deterministic: same content gives the same bytes, whatever the mtimes, path, umask bits or hard links", async () => {
    const dir = build(packTree);
    const first = await packWorkdir(dir, { outDir: tempDir() });
    const firstBytes = readFileSync(first.file);

    // Touch everything, move it elsewhere, loosen modes without changing the exec bit, hard-link a file.
    const copy = join(tempDir(), "elsewhere");
    cpSync(dir, copy, { recursive: true, verbatimSymlinks: true });
    const future = new Date("2031-02-03T04:05:06Z");
    for (const rel of walk(copy)) if (!lstatSync(join(copy, rel)).isSymbolicLink()) utimesSync(join(copy, rel), future, future);
    utimesSync(copy, future, future);
    chmodSync(join(copy, "a.txt"), 0o666);
    chmodSync(join(copy, "run.sh"), 0o775);
    linkSync(join(copy, "a.txt"), join(copy, "build", "a-hardlink")); // a.txt now has a hard link (in an ignored dir)

    const second = await packWorkdir(copy, { outDir: tempDir() });
    expect(second.sha256).toBe(first.sha256);
    expect(second.bytes).toBe(first.bytes);
    expect(readFileSync(second.file).equals(firstBytes)).toBe(true);

    // Twice in the same place, with mtimes changed in between.
    utimesSync(join(dir, "a.txt"), new Date(), new Date());
    const again = await packWorkdir(dir, { outDir: tempDir() });
    expect(again.sha256).toBe(first.sha256);

    // ...and it does notice a change of content, of the exec bit, or of a symlink target.
    writeFileSync(join(copy, "a.txt"), "alphA\n");
    expect((await packWorkdir(copy, { outDir: tempDir() })).sha256).not.toBe(first.sha256);
    writeFileSync(join(copy, "a.txt"), "alpha\n");
    expect((await packWorkdir(copy, { outDir: tempDir() })).sha256).toBe(first.sha256);
    chmodSync(join(copy, "a.txt"), 0o755);
    expect((await packWorkdir(copy, { outDir: tempDir() })).sha256).not.toBe(first.sha256);
    chmodSync(join(copy, "a.txt"), 0o644);
    rmSync(join(copy, "link"));
    symlinkSync("run.sh", join(copy, "link"));
    expect((await packWorkdir(copy, { outDir: tempDir() })).sha256).not.toBe(first.sha256);
  });

  it("packs hard links as separate full files", async () => {
    const dir = build({ "a.txt": "shared\n" });
    linkSync(join(dir, "a.txt"), join(dir, "b.txt"));
    const { file, files } = await packWorkdir(dir, { outDir: tempDir() });
    expect(files).toBe(2);
    const verbose = execFileSync("tar", ["-tvzf", file]).toString("utf8");
    expect(verbose).not.toContain("link to");
    const x = tempDir();
    execFileSync("tar", ["-xzf", file, "-C", x]);
    expect(readFileSync(join(x, "b.txt"), "utf8")).toBe("shared\n");
  });

  it("does not pack its own earlier output when outDir is inside the workdir", async () => {
    const dir = build({ ".gitignore": "", "a.txt": "a\n" });
    const out = join(dir, "out");
    const first = await packWorkdir(dir, { outDir: out });
    const second = await packWorkdir(dir, { outDir: out });
    expect(second.files).toBe(2);
    expect(second.sha256).toBe(first.sha256);
    expect(execFileSync("tar", ["-tzf", second.file]).toString("utf8").split("\n").filter(Boolean)).toEqual([".gitignore", "a.txt"]);
  });

  it("writes to a new temp dir by default", async () => {
    const dir = build({ "a.txt": "a\n" });
    const a = await packWorkdir(dir);
    const b = await packWorkdir(dir);
    roots.push(dirname(a.file), dirname(b.file));
    expect(dirname(a.file)).not.toBe(dirname(b.file));
    expect(dirname(a.file).startsWith(tmpdir())).toBe(true);
    expect(b.sha256).toBe(a.sha256);
  });
});

describe("packWorkdir: errors", () => {
  function bigTree(): string {
    const dir = build({ ".gitignore": "huge.bin\n", "a/": "", "g.txt": "x".repeat(1024) });
    // Sparse files: sizes without the disk.
    const sizes: Record<string, number> = { "a/b.bin": 150 * MiB, "c.pt": 40 * MiB, "d.bin": 20 * MiB, "e.bin": 3 * MiB, "f.bin": 2 * MiB, "huge.bin": 4096 * MiB };
    for (const [rel, size] of Object.entries(sizes)) {
      writeFileSync(join(dir, rel), "");
      truncateSync(join(dir, rel), size);
    }
    return dir;
  }

  it("over the limit: names the total, the limit, the largest files and the fix, and writes nothing", async () => {
    const dir = bigTree();
    const out = join(tempDir(), "out");
    const err = await packWorkdir(dir, { outDir: out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkdirTooLargeError);
    const e = err as WorkdirTooLargeError;
    expect(e.message).toBe(
      `${dir}: error: workdir: 215 MB to upload after .gitignore (limit 200 MB); largest: a/b.bin 150 MB, c.pt 40 MB, d.bin 20 MB, e.bin 3 MB, f.bin 2 MB, …\n` +
        "  fix: add them to .gitignore or .spotjobignore, or keep data in the bucket and fetch it in setup",
    );
    expect(e.total).toBe(215 * MiB + 1024 + "huge.bin\n".length); // the sparse files, g.txt, .gitignore
    expect(e.limit).toBe(200 * MiB);
    expect(e.largest.map((f) => f.path)).toEqual(["a/b.bin", "c.pt", "d.bin", "e.bin", "f.bin"]);
    expect(e.diagnostic.code).toBe("workdir_too_large");
    expect(() => statSync(out)).toThrow(); // nothing written, not even the directory
  });

  it("the limit is inclusive and maxBytes changes it; ignored files do not count", async () => {
    const dir = build({ ".gitignore": "big\n", "big": "x".repeat(10_000), "a": "x".repeat(996), "b": "x".repeat(24) });
    await expect(packWorkdir(dir, { outDir: tempDir(), maxBytes: 1024 })).resolves.toMatchObject({ files: 3 });
    const err = await packWorkdir(dir, { outDir: tempDir(), maxBytes: 1023 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkdirTooLargeError);
    expect((err as Error).message).toBe(
      `${dir}: error: workdir: 1 KB to upload after .gitignore (limit 1023 B); largest: a 996 B, b 24 B, .gitignore 4 B\n` +
        "  fix: add them to .gitignore or .spotjobignore, or keep data in the bucket and fetch it in setup",
    );
  });

  it.each([
    ["a missing directory", (root: string) => join(root, "nope"), "no such directory"],
    ["a file", (root: string) => (writeFileSync(join(root, "file.txt"), "x"), join(root, "file.txt")), "is not a directory"],
    ["a path through a file", (root: string) => (writeFileSync(join(root, "f"), "x"), join(root, "f", "sub")), "no such directory"],
  ])("%s: a clear error naming it", async (_what, make, message) => {
    const dir = make(tempDir());
    await expect(packWorkdir(dir, { outDir: tempDir() })).rejects.toThrow(`${dir}: error: workdir: ${message}`);
    await expect(workdirFiles(dir)).rejects.toThrow(`${dir}: error: workdir: ${message}`);
  });
});
