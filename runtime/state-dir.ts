/**
 * A machine-local state directory caches one store (its journal, logs and
 * setup marker mirror that store's history): it records which, and a run
 * against another store is refused rather than mixing two histories.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const MARKER = "store-url";

/** Creates `stateDir` for `storeUrl`, or says why it cannot serve it (undefined: it can). */
export function claimStateDir(stateDir: string, storeUrl: string): string | undefined {
  const marker = join(stateDir, MARKER);
  if (existsSync(marker)) {
    const owner = readFileSync(marker, "utf8").trim();
    if (owner === storeUrl) return undefined;
    return `${stateDir} is this machine's state for the store ${owner}, not ${storeUrl}: give each store its own state directory (--state), or remove ${stateDir} if ${owner} is no longer used`;
  }
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(marker, `${storeUrl}\n`);
  return undefined;
}
