/**
 * A machine-local state directory caches one store (its journal, logs and
 * setup marker mirror that store's history): it records which, and a run
 * against another store is refused rather than mixing two histories.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeDirs } from "./store/local-dir";

const MARKER = "store-url";

/** Creates `stateDir` for `storeUrl`, or says why it cannot serve it (undefined: it can). */
export async function claimStateDir(stateDir: string, storeUrl: string): Promise<string | undefined> {
  const marker = join(stateDir, MARKER);
  if (existsSync(marker)) {
    const owner = readFileSync(marker, "utf8").trim();
    if (owner === storeUrl) return undefined;
    return `${stateDir} is this machine's state for the store ${owner}, not ${storeUrl}: give each store its own state directory (--state), or remove ${stateDir} if ${owner} is no longer used`;
  }
  try {
    // Not Node's recursive mkdir: under /proc it never returns.
    await makeDirs(stateDir);
    writeFileSync(marker, `${storeUrl}\n`);
  } catch (e) {
    const { code, message } = e as NodeJS.ErrnoException;
    return `cannot use ${stateDir} as this machine's state directory (${code ?? message}): nothing ran; give a directory this user may create and write (--state DIR), or fix its permissions`;
  }
  return undefined;
}
