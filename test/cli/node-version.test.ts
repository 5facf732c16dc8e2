/** Node.js 22 or newer everywhere: the package, the bundles, the CLI's own check (20 is end of life since 2026-04-30). */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NODE_MIN_MAJOR } from "../../infra/aws/startup-script";
import { bundles } from "../helpers/shared";

const root = join(__dirname, "../..");

describe("Node.js 22 or newer", () => {
  it("is what the package declares and the bundles target", async () => {
    expect(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).engines.node).toBe(`>=${NODE_MIN_MAJOR}`);
    const { common } = await import("../../scripts/esbuild-options.mjs");
    expect(common.target).toBe(`node${NODE_MIN_MAJOR}`);
    expect(NODE_MIN_MAJOR).toBeGreaterThanOrEqual(22);
  });

  it.each([
    ["20.19.0", true],
    ["21.7.3", true],
    ["22.0.0", false],
    [process.versions.node, false],
  ])("the CLI under Node.js %s refuses to run: %s", (version, refused) => {
    // The CLI as run by an older Node.js: its version is all the check reads. (bin/spotjob.js of the run's build: it loads dist/ beside it.)
    const pretend = `Object.defineProperty(process, "versions", { value: { ...process.versions, node: ${JSON.stringify(version)} } }); Object.defineProperty(process, "version", { value: "v${version}" }); require(${JSON.stringify(join(bundles().packageDir, "bin/spotjob.js"))});`;
    const run = spawnSync(process.execPath, ["-e", pretend, "--", "spotjob", "--version"], { encoding: "utf8" });
    if (refused) {
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`^spotjob: needs Node\\.js 22 or newer; this is v${version.replace(/\./g, "\\.")} .*Install a current LTS \\(22 or 24\\)`));
    } else {
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^spotjob /);
    }
  });
});
