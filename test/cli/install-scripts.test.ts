/**
 * `npm ci` prints nothing unexplained: every dependency with an install script
 * is reviewed in package.json's allowScripts (npm 11 lists the others on every
 * install, and a later npm blocks them). Entries are by name: the lockfile has
 * no registry URLs, from which npm would take a pinned version.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "../..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { allowScripts?: Record<string, boolean> };
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages: Record<string, { hasInstallScript?: boolean; resolved?: string }> };

describe("install scripts", () => {
  it("every dependency with an install script is reviewed in allowScripts, by name, and nothing else is", () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([path, p]) => path && p.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
    expect([...new Set(withScripts)].sort()).toEqual(Object.keys(pkg.allowScripts ?? {}).sort());
    for (const key of Object.keys(pkg.allowScripts ?? {})) expect(key).not.toMatch(/.@/); // a pin would not match (no resolved URLs)
    expect(Object.values(lock.packages).some((p) => p.resolved)).toBe(false);
  });
});
