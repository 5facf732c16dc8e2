/**
 * Property: no mutation of a valid spec, textual or structural, makes the
 * loader throw, hang, or return an error without a place and a message.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { parseSpec, type SpecResult } from "../../core/jobspec";
import { REFERENCE_JOBS } from "./reference-specs.test";

const SEEDS = [
  ...["confinement_h100_aws", "confinement_h100_gcp", "minimal_l4_gcp", "rehearsal_a100_runpod"].map((n) => readFileSync(join(REFERENCE_JOBS, `${n}.yaml`), "utf8")),
  "provider: local\nname: demo\nsweep:\n  grid: {lr: [0.1, 0.01], seed: [1, 2]}\n  key: \"{lr}-{seed}\"\n  command: python3 train.py --lr {lr} --seed {seed}\n  parallel: 2\nrun: echo done\n",
  "provider: aws\ngpu_type: A10G\ncost: {max_cost_per_hour: 1.5, spot_fallback: true}\nssh:\n  public_key: ssh-ed25519 AAAAC3Nza you@host\n  cidrs: [203.0.113.7/32]\nrun: |\n  nvidia-smi\n",
];
const YAML_SPECIALS = [":", "{", "}", "[", "]", "&a", "*a", "!", "|", ">", "'", '"', "#", "-", "\t", "\n", "  ", "---", "<<: ", "? ", "%YAML 1.1\n", "\u0000", "é", "😀", "null", "~", "1e400", "-0", ".inf", "0x10"];

function check(result: SpecResult, elapsedMs: number): void {
  expect(elapsedMs).toBeLessThan(2000);
  expect(typeof result.ok).toBe("boolean");
  if (!result.ok) {
    expect(result.errors.length).toBeGreaterThan(0);
    for (const e of result.errors) {
      expect(e.message.length).toBeGreaterThan(0);
      expect(e.line).toBeGreaterThanOrEqual(0);
      expect(e.column).toBeGreaterThanOrEqual(0);
      expect(e.file).toBe("fuzz.yaml");
    }
  }
}

function timed(text: string): void {
  const started = performance.now();
  const result = parseSpec(text, "fuzz.yaml");
  check(result, performance.now() - started);
}

const textMutation = fc.oneof(
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), what: fc.oneof(fc.constantFrom(...YAML_SPECIALS), fc.string({ maxLength: 12 })) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("dupline" as const), at: fc.nat() }),
);

type TextMutation = typeof textMutation extends fc.Arbitrary<infer T> ? T : never;

function applyText(text: string, m: TextMutation): string {
  const at = m.at % (text.length + 1);
  switch (m.kind) {
    case "insert":
      return text.slice(0, at) + m.what + text.slice(at);
    case "delete":
      return text.slice(0, at) + text.slice(at + m.length);
    case "truncate":
      return text.slice(0, at);
    case "dupline": {
      const lines = text.split("\n");
      const i = m.at % lines.length;
      lines.splice(i, 0, lines[i]);
      return lines.join("\n");
    }
  }
}

const KEYS = ["provider", "gpu_type", "gpu_count", "use_spot", "region", "disk_size", "cost", "run", "setup", "envs", "ports", "sweep", "zones", "regions", "ssh", "name", "max_runtime_minutes", "grid", "items", "command", "key", "parallel", "max_cost_per_hour", "spot_fallback", "x"];

describe("spec loader under random mutation", () => {
  it("survives text mutations of valid specs", () => {
    fc.assert(
      fc.property(fc.constantFrom(...SEEDS), fc.array(textMutation, { minLength: 1, maxLength: 6 }), (seed, mutations) => {
        timed(mutations.reduce(applyText, seed));
      }),
      { numRuns: 1500 },
    );
  });

  it("survives structural mutations: random values at random keys", () => {
    const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(null, "", -1, 0, 1e308, Number.MAX_SAFE_INTEGER, "gpus", [], {}));
    fc.assert(
      fc.property(
        fc.constantFrom(...SEEDS),
        fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...KEYS, ""), value), { minLength: 1, maxLength: 4 }),
        (seed, edits) => {
          const data = parse(seed) as Record<string, unknown>;
          for (const [key, sub, shared] of edits) {
            const v = structuredClone(shared);
            if (sub && data[key] && typeof data[key] === "object" && !Array.isArray(data[key])) (data[key] as Record<string, unknown>)[sub] = v;
            else if (v === null) delete data[key];
            else data[key] = v;
          }
          timed(stringify(data));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("never accepts what it cannot validate: accepted specs round-trip", () => {
    fc.assert(
      fc.property(fc.constantFrom(...SEEDS), fc.array(textMutation, { minLength: 1, maxLength: 3 }), (seed, mutations) => {
        const result = parseSpec(mutations.reduce(applyText, seed), "fuzz.yaml");
        if (!result.ok) return;
        // Whatever was accepted is a complete, valid spec: loading it again gives the same spec.
        const again = parseSpec(stringify(result.loaded.spec), "fuzz.yaml");
        expect(again.ok).toBe(true);
        if (again.ok) expect(again.loaded.spec).toEqual(result.loaded.spec);
      }),
      { numRuns: 500 },
    );
  });
});
