/**
 * What the runtime and the CLI load to start: no cloud SDK. Each SDK is a
 * second or more to load on a busy machine, and a process is not ready for a
 * signal until its start path has loaded. Read from esbuild's metafile: the
 * modules reachable from the entry point through static imports are the ones
 * the bundle evaluates at start; those behind an `import()` it evaluates only
 * when that runs.
 */
import { build, type Metafile } from "esbuild";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bundles } from "../helpers/shared";

const root = join(__dirname, "../..");
const SDK = /^node_modules\/(@aws-sdk|@smithy|@google-cloud|google-auth-library|gaxios|gcp-metadata|teeny-request|node-fetch)\//;

/** The inputs a bundle evaluates at start: the entry's static-import closure. */
function evaluatedAtStart(metafile: Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const next = [entry];
  while (next.length) {
    const file = next.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const i of metafile.inputs[file]?.imports ?? []) if (i.kind !== "dynamic-import" && !i.external) next.push(i.path);
  }
  return seen;
}

describe.each([
  ["runtime", "runtime/main.ts"],
  ["CLI", "cli/main.ts"],
])("the %s bundle", (_name, entry) => {
  it("loads no cloud SDK at start: S3, GCS and the AWS instance's clients come through import()", async () => {
    // The product's own bundle list and options (ES modules: imported, not required).
    const [{ bundles: productBundles }, { common }] = await Promise.all([import("../../scripts/build.mjs"), import("../../scripts/esbuild-options.mjs")]);
    const options = productBundles("/nonexistent").find((b) => (b.entryPoints as string[])[0] === join(root, entry))!;
    // Not written anywhere: only the metafile is read.
    const result = await build({ ...common, ...options, absWorkingDir: root, write: false, metafile: true, logLevel: "silent" });
    const atStart = [...evaluatedAtStart(result.metafile, entry)];
    expect(atStart).toContain("runtime/hold-signals.ts");
    expect(atStart.filter((f) => SDK.test(f))).toEqual([]);
    // ... and they are in the bundle, behind an import().
    expect(Object.keys(result.metafile.inputs).filter((f) => f.startsWith("node_modules/@aws-sdk/client-s3/")).length).toBeGreaterThan(0);
  });
});

it("the runtime, one file, holds signals before V8 compiles the rest of it (scripts/hold-then-compile.mjs)", () => {
  const text = readFileSync(bundles().runtime, "utf8");
  const prelude = text.slice(0, text.indexOf("module._compile("));
  expect(prelude.length).toBeGreaterThan(0);
  expect(prelude.length).toBeLessThan(4096);
  expect(prelude).toContain('Symbol.for("spotjob.held-signals")');
});
