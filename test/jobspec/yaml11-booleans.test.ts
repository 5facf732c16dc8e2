/**
 * JobConfig's launcher reads specs with a YAML 1.1 loader, where yes/no/on/off
 * are booleans; spotjob reads YAML 1.2, where they are strings. In a yes/no
 * field they are read as the launcher reads them, each with a located warning
 * and the portable spelling; anywhere else they stay strings.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jobSpecJsonSchema } from "../../core/jobspec";
import { BOOLEAN_FIELDS, loadSpecFile } from "../../core/jobspec/load";

function load(yaml: string) {
  const file = join(mkdtempSync(join(tmpdir(), "spotjob-yaml11-")), "job.yaml");
  writeFileSync(file, yaml);
  return loadSpecFile(file);
}

describe("YAML 1.1 booleans in yes/no fields", () => {
  it.each([
    ["yes", true],
    ["Yes", true],
    ["ON", true],
    ["y", true],
    ["no", false],
    ["Off", false],
    ["N", false],
  ])("use_spot: %s is read as %s, with a located warning and the portable spelling", (word, truth) => {
    const result = load(`provider: local\nname: yb\nuse_spot: ${word}\nrun: echo hi\n`);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.loaded.spec.use_spot).toBe(truth);
    expect(result.loaded.warnings).toContainEqual(expect.objectContaining({ line: 3, code: "yaml11_boolean", severity: "warning", message: `\`${word}\` is read as ${truth} (YAML 1.1, as JobConfig reads it; in YAML 1.2 it is a string)`, hint: `write \`${truth}\`` }));
  });

  it("nested fields too; a word that is no boolean is still an error; elsewhere the words stay strings", () => {
    const nested = load("provider: local\nname: yb\ncost:\n  auto_teardown: off\n  spot_fallback: yes\nenvs:\n  FLAG: yes\nrun: echo hi\n");
    expect(nested.ok).toBe(true);
    if (nested.ok) {
      expect(nested.loaded.spec.cost).toMatchObject({ auto_teardown: false, spot_fallback: true });
      expect(nested.loaded.spec.envs.FLAG).toBe("yes");
    }
    const wrong = load("provider: local\nname: yb\nuse_spot: maybe\nrun: echo hi\n");
    expect(wrong.ok).toBe(false);
  });

  it("BOOLEAN_FIELDS lists every boolean field of the published schema", () => {
    const found: string[][] = [];
    const walk = (node: unknown, path: string[]) => {
      if (!node || typeof node !== "object") return;
      const n = node as { type?: unknown; properties?: Record<string, unknown>; anyOf?: unknown[]; oneOf?: unknown[]; allOf?: unknown[] };
      if (n.type === "boolean") found.push(path);
      for (const [key, child] of Object.entries(n.properties ?? {})) walk(child, [...path, key]);
      for (const child of [...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.allOf ?? [])]) walk(child, path);
    };
    walk(jobSpecJsonSchema(), []);
    expect(found.map((p) => p.join("."))).toEqual(BOOLEAN_FIELDS.map((p) => p.join(".")));
  });
});
