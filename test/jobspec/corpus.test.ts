/**
 * Every malformed or hostile spec in corpus/ carries its expected diagnostic
 * on its first line (`# expect: {json}`): the code, the field path, the line
 * and column, and words the message or hint must contain.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSpec } from "../../core/jobspec";

interface Expectation {
  code: string;
  path: string;
  line?: number;
  column?: number;
  message?: string;
  hint?: string;
}

const dir = join(__dirname, "corpus");
const files = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();

describe("malformed spec corpus", () => {
  it("has at least 40 cases", () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
  });

  it.each(files)("%s", (file) => {
    const text = readFileSync(join(dir, file), "utf8");
    const header = /^# expect: (.*)$/m.exec(text);
    expect(header, "corpus file needs an `# expect:` first line").not.toBeNull();
    const want = JSON.parse(header![1]) as Expectation;
    const result = parseSpec(text, `corpus/${file}`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const error = result.errors[0];
    expect(error.file).toBe(`corpus/${file}`);
    expect(error.severity).toBe("error");
    expect({ code: error.code, path: error.path }).toEqual({ code: want.code, path: want.path });
    if (want.line !== undefined) expect(error.line).toBe(want.line);
    if (want.column !== undefined) expect(error.column).toBe(want.column);
    if (want.message) expect(error.message).toContain(want.message);
    if (want.hint) expect(error.hint ?? "").toContain(want.hint);
    // No message is a bare library message or a stack trace.
    expect(error.message).not.toMatch(/Invalid input|at Object\.|\n\s+at /);
  });
});

describe("hostile inputs that are generated rather than committed", () => {
  const H = "provider: aws\ngpu_type: L4\nrun: x\n";

  it("rejects a huge file before parsing it", () => {
    const text = H + `# ${"x".repeat(3 * 1024 * 1024)}\n`;
    const started = performance.now();
    const result = parseSpec(text, "huge.yaml");
    expect(performance.now() - started).toBeLessThan(1000);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0].code).toBe("file_too_large");
  });

  it("reports deep nesting instead of overflowing the stack", () => {
    for (const text of ["[".repeat(50_000), "a:\n" + Array.from({ length: 3000 }, (_, i) => `${" ".repeat(i + 1)}- `).join("\n")]) {
      const result = parseSpec(text, "deep.yaml");
      expect(result.ok).toBe(false);
    }
    const result = parseSpec("x: " + "[".repeat(50_000) + "]".repeat(50_000), "deep.yaml");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(["too_deep", "yaml_syntax", "unknown_key"]).toContain(result.errors[0].code);
  });

  it("rejects binary junk with a YAML error", () => {
    const result = parseSpec("provider: aws\n\u0000\u0001\u0002: \u0007\n", "binary.yaml");
    expect(result.ok).toBe(false);
  });

  it("reports several problems at once, in file order", () => {
    const result = parseSpec("provider: aws\ngpu_type: L4\nrun: x\ngpu_cout: 2\ncost:\n  max_cost_per_hour: abc\n", "many.yaml");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((e) => [e.path, e.line])).toEqual([["gpu_cout", 4], ["cost.max_cost_per_hour", 6]]);
  });
});
