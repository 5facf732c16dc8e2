import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { CLOUD_IDS, cannotLaunch, launchable, plannable, PROVIDER_IDS, PROVIDERS } from "../../core/providers/registry";

const root = join(__dirname, "../..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

describe("the provider registry", () => {
  it("has an entry for every provider a JobConfig may name, and a catalog cloud for each cloud", () => {
    expect(Object.keys(PROVIDERS).sort()).toEqual([...PROVIDER_IDS].sort());
    for (const cloud of CLOUD_IDS) expect(PROVIDERS[cloud].cloud).toBe(cloud);
    expect(plannable().map((p) => p.id)).toEqual(expect.arrayContaining(["aws", "gcp", "local"]));
    expect(plannable().map((p) => p.id)).not.toContain("runpod");
    expect(launchable().map((p) => p.id)).toEqual(expect.arrayContaining(["aws", "local"]));
  });

  it("points a provider that cannot launch at those that can", () => {
    const { message, hint } = cannotLaunch("runpod");
    for (const p of launchable()) expect(message).toContain(p.id);
    expect(hint).toContain("provider:");
  });

  // The point of the registry: a new cloud is a new entry, not an edit of every layer.
  it("is the only place outside the per-cloud folders that compares a provider or cloud name", () => {
    const allowed = /^(core\/providers\/|core\/wire\/|runtime\/cloud\/(aws|gcp)\/|runtime\/supervisor\/(aws|gcp)\/|infra\/(aws|gcp|local)\/)/;
    // A market named "local" (this machine) is not a provider.
    const comparison = /(?<!market\s?)(?:===|!==)\s*"(?:aws|gcp|local)"|"(?:aws|gcp|local)"\s*(?:===|!==)|case\s+"(?:aws|gcp)"\s*:/;
    const offenders = ["core", "infra", "runtime", "cli"]
      .flatMap((dir) => sources(join(root, dir)))
      .map((file) => relative(root, file))
      .filter((file) => !allowed.test(file))
      .flatMap((file) =>
        readFileSync(join(root, file), "utf8")
          .split("\n")
          .flatMap((line, i) => (comparison.test(line) && !/^\s*(\/\/|\*)/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(offenders).toEqual([]);
  });
});
