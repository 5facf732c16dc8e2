/**
 * `SWEEP_RESUME_FROM` given in the spec's `envs` as a URL: the runtime
 * fetches the progress file to this machine before the job starts and points
 * the variable at the local copy, so programs that only read local paths
 * resume from s3://, gs:// and presigned http(s):// sources too.
 *
 * - A missing source (no such key, HTTP 404) is a fresh start: the variable
 *   is removed.
 * - If the source has an integrity manifest beside it (`<file>.manifest.json`:
 *   `sha256`, `size_bytes`), the copy must match it; a mismatch is an error
 *   and nothing local is written. For http(s) the manifest URL is built on
 *   the URL's path, so a presigned query string is never mangled (a presigned
 *   source usually has no readable manifest; it is then taken as it is).
 */
import { existsSync, promises as fs } from "node:fs";
import { dirname, join } from "node:path";
import { HttpStore } from "../store/http";
import { syncDir, tempPathFor } from "../store/local-dir";
import { openStore } from "../store/open";
import type { Store } from "../store/store";
import { sha256File } from "../store/transfer";

export class ResumeSourceCorruptError extends Error {
  constructor(source: string, detail: string) {
    super(`SWEEP_RESUME_FROM ${source} fails its integrity check (${detail}); nothing local was overwritten`);
    this.name = "ResumeSourceCorruptError";
  }
}

/** Whether the runtime fetches this value itself (paths are left to the program). */
export function isRemoteSource(value: string): boolean {
  return /^(s3|gs|https?|file):\/\//.test(value);
}

interface Located {
  store: Store;
  key: string;
  manifest: () => Promise<Buffer | undefined>;
  /** The source as it may appear in messages (no presigned signature). */
  shown: string;
  name: string;
}

function locate(source: string): Located {
  if (/^https?:\/\//.test(source)) {
    const url = new URL(source);
    const store = new HttpStore(url);
    const manifestUrl = new URL(url.href);
    manifestUrl.pathname = `${url.pathname}.manifest.json`;
    const sidecar = new HttpStore(manifestUrl);
    return {
      store,
      key: "",
      shown: store.url,
      name: decodeURIComponent(url.pathname.split("/").pop() || "progress"),
      // An unreadable manifest (a presigned URL signs only the file) means "no manifest".
      manifest: async () => (await sidecar.get("").catch(() => undefined))?.body,
    };
  }
  const cut = source.lastIndexOf("/");
  const parent = source.slice(0, cut);
  const key = source.slice(cut + 1);
  const store = openStore(parent || "/");
  return { store, key, shown: source, name: key, manifest: async () => (await store.get(`${key}.manifest.json`))?.body };
}

/**
 * Fetches the source into `dir`; returns the local path, or undefined for a
 * fresh start. A file of the same name already in the snapshot directory is
 * this job's own, newer progress and wins over the source.
 */
export async function fetchResumeSource(source: string, dir: string, snapshotDir: string): Promise<{ path?: string; from: "snapshot" | "source" | "none" }> {
  const at = locate(source);
  const own = join(snapshotDir, at.name);
  if (existsSync(own)) return { path: own, from: "snapshot" };
  // Streamed to a temporary file and checked from disk: any size, nothing held in memory, nothing replaced unless it passes.
  const local = join(dir, at.name);
  await fs.mkdir(dir, { recursive: true });
  const temp = tempPathFor(local);
  try {
    if (!(await at.store.getToFile(at.key, temp))) return { from: "none" };
    const manifest = await at.manifest();
    if (manifest) {
      let expected: { sha256?: string; size_bytes?: number };
      try {
        expected = JSON.parse(manifest.toString());
      } catch {
        throw new ResumeSourceCorruptError(at.shown, "its manifest is not JSON");
      }
      const size = (await fs.stat(temp)).size;
      const actual = await sha256File(temp);
      if (expected.sha256 !== undefined && expected.sha256 !== actual) throw new ResumeSourceCorruptError(at.shown, `sha256 ${actual}, manifest says ${expected.sha256}`);
      if (expected.size_bytes !== undefined && expected.size_bytes !== size) throw new ResumeSourceCorruptError(at.shown, `${size} bytes, manifest says ${expected.size_bytes}`);
    }
    await fs.rename(temp, local);
    await syncDir(dirname(local));
  } finally {
    await fs.rm(temp, { force: true });
  }
  return { path: local, from: "source" };
}

/**
 * Points `env.SWEEP_RESUME_FROM` at a local copy when the spec gave a URL
 * (or removes it for a fresh start); returns an error message when the
 * source fails its integrity check.
 */
export async function applyResumeFrom(given: unknown, env: NodeJS.ProcessEnv, dir: string, snapshotDir: string, info: (message: string) => void): Promise<string | undefined> {
  if (typeof given !== "string" || !isRemoteSource(given)) return undefined;
  try {
    const fetched = await fetchResumeSource(given, dir, snapshotDir);
    if (fetched.path) env.SWEEP_RESUME_FROM = fetched.path;
    else delete env.SWEEP_RESUME_FROM;
    info(
      fetched.from === "snapshot"
        ? `SWEEP_RESUME_FROM: resuming from this job's own newer copy ${fetched.path}`
        : fetched.from === "source"
          ? `SWEEP_RESUME_FROM: fetched to ${fetched.path}`
          : "SWEEP_RESUME_FROM: the source does not exist: a fresh start",
    );
    return undefined;
  } catch (e) {
    if (e instanceof ResumeSourceCorruptError) return e.message;
    throw e;
  }
}
