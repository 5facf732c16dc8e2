/**
 * Where a job lives on a machine that runs it without a cloud (`spotjob run`,
 * a `provider: local` stack): `.spotjob/<job>/` is its default store, and
 * each store it runs against has its own machine-local cache beside it. The
 * cache (local journal, logs, setup marker) only mirrors one store: a run
 * against another store is another job history and must not see it.
 */
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseStoreUrl } from "../core/wire/store-url";

export interface LocalJobHome {
  /** `.spotjob/<job>/` under `root`: the default store. */
  home: string;
  /** The store runs use unless told otherwise. */
  store: string;
}

export function localJobHome(root: string, job: string): LocalJobHome {
  const home = resolve(root, ".spotjob", job);
  return { home, store: home };
}

/**
 * The store URL as the store names itself: a path made absolute, a file://
 * URL made a path, no trailing slash (s3://b/p and s3://b/p/ are one store).
 */
export function canonicalStoreUrl(url: string): string {
  const at = parseStoreUrl(url);
  switch (at.kind) {
    case "file":
      return resolve(fileURLToPath(at.url));
    case "directory":
      return resolve(at.path);
    default:
      return url.replace(/\/+$/, "");
  }
}

/** The machine-local cache for runs of the job in `home` against `storeUrl`: `machine/` for the default store, `machine-<hash>/` for any other. */
export function machineStateDir(home: LocalJobHome, storeUrl: string): string {
  const url = canonicalStoreUrl(storeUrl);
  if (url === canonicalStoreUrl(home.store)) return join(home.home, "machine");
  return join(home.home, `machine-${createHash("sha256").update(url).digest("hex").slice(0, 12)}`);
}
