/** The bundled catalogs hold the reference facts; override files merge in, and a bad one is reported where it is wrong. */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { applyCatalogOverride, bundledCatalog, CatalogError, formatUsd, loadCatalog, type Catalog } from "../../core/catalog";

/** cloud-facts.md, "GPU instance types": type, GPU, count, GB per GPU, on-demand, spot (null = n/a). */
const FACTS: [string, string, string, number, number, number, number | null][] = [
  ["aws", "g4dn.xlarge", "T4", 1, 16, 0.53, 0.2],
  ["aws", "g5.xlarge", "A10G", 1, 24, 1.01, 0.4],
  ["aws", "g6.xlarge", "L4", 1, 24, 0.8, 0.45],
  ["aws", "g6e.xlarge", "L40S", 1, 48, 1.86, 1.2],
  ["aws", "p4d.24xlarge", "A100", 8, 40, 22, 8],
  ["aws", "p4de.24xlarge", "A100", 8, 80, 27, 5],
  ["aws", "p5.4xlarge", "H100", 1, 80, 6.9, null],
  ["aws", "p5.48xlarge", "H100", 8, 80, 55, 25],
  ["aws", "p5en.48xlarge", "H200", 8, 141, 85, 20],
  ["gcp", "g2-standard-4", "L4", 1, 24, 0.71, 0.28],
  ["gcp", "n1-standard-4", "T4", 1, 16, 0.54, 0.18],
  ["gcp", "a2-highgpu-1g", "A100", 1, 40, 3.67, 1.4],
  ["gcp", "a2-ultragpu-1g", "A100", 1, 80, 5.07, 2.0],
  ["gcp", "a3-highgpu-1g", "H100", 1, 80, 11, 5],
  ["gcp", "a3-highgpu-8g", "H100", 8, 80, 88.5, 35.6],
];

const REFERENCE_REGION = { aws: "us-east-1", gcp: "us-central1" } as const;

function offer(catalog: Catalog, type: string) {
  const o = catalog.offers.find((x) => x.instance_type === type);
  if (!o) throw new Error(`${type} missing`);
  return o;
}

function overrideError(fn: () => unknown): CatalogError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CatalogError) return e;
    throw e;
  }
  throw new Error("expected a CatalogError");
}

describe("bundled catalogs", () => {
  it.each(FACTS)("%s %s: %s ×%i", (cloud, type, gpu, count, memory, onDemand, spot) => {
    const o = offer(bundledCatalog(cloud as "aws" | "gcp"), type);
    expect(o).toMatchObject({ gpu, gpu_count: count, gpu_memory_gb: memory });
    expect(o.regions[REFERENCE_REGION[cloud as "aws" | "gcp"]]).toMatchObject({ on_demand: onDemand, spot });
  });

  it.each(["aws", "gcp"] as const)("%s carries its date, source and price note", (cloud) => {
    const c = bundledCatalog(cloud);
    expect(c.cloud).toBe(cloud);
    expect(c.date).toBe("2026-11-24");
    // The source names a file a user can open: the bundled catalog itself, in this repository.
    const named = /core\/catalog\/[a-z]+\.json/.exec(c.source)?.[0];
    expect(named).toBe(`core/catalog/${cloud}.json`);
    expect(existsSync(join(__dirname, "../..", named!))).toBe(true);
    expect(c.source).not.toMatch(/cloud-facts\.md/);
    expect(c.price_note).toMatch(/assumed to cost the same/);
    expect(c.currency).toBe("USD");
  });

  it("records GCP accelerator types and the spot-only caveat", () => {
    const gcp = bundledCatalog("gcp");
    expect(gcp.offers.every((o) => o.accelerator_type)).toBe(true);
    expect(offer(gcp, "n1-standard-4")).toMatchObject({ accelerator_type: "nvidia-tesla-t4", attach_accelerator: true });
    expect(offer(gcp, "a3-highgpu-1g").on_demand_note).toMatch(/spot or flex-start/);
  });

  it("marks SXM parts", () => {
    for (const type of ["p4d.24xlarge", "p5.4xlarge", "p5en.48xlarge"]) expect(offer(bundledCatalog("aws"), type).form_factor).toBe("SXM");
    for (const type of ["a2-highgpu-1g", "a3-highgpu-8g"]) expect(offer(bundledCatalog("gcp"), type).form_factor).toBe("SXM");
  });

  it("hands out copies, so one caller cannot change another's prices", () => {
    offer(bundledCatalog("aws"), "g5.xlarge").regions["us-east-1"].on_demand = 999;
    expect(offer(bundledCatalog("aws"), "g5.xlarge").regions["us-east-1"].on_demand).toBe(1.01);
  });
});

describe("catalog overrides", () => {
  const aws = () => bundledCatalog("aws");

  it("replaces one region's price and keeps the rest", () => {
    const merged = applyCatalogOverride(aws(), "offers:\n  - instance_type: p5.4xlarge\n    regions:\n      us-east-1: {spot: 3.1}\n", "prices.yaml");
    const p5 = offer(merged, "p5.4xlarge");
    expect(p5.regions["us-east-1"]).toEqual({ zones: ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"], on_demand: 6.9, spot: 3.1 });
    expect(p5.regions["us-west-2"].spot).toBeNull();
    expect(p5.vcpus).toBe(16);
    expect(merged.overridden).toEqual(["p5.4xlarge"]);
    expect(merged.overrideFile).toBe("prices.yaml");
    expect(merged.source).toMatch(/overrides from prices\.yaml$/);
    expect(merged.date).toBe("2026-11-24");
  });

  it("adds instance types and regions, and takes the override's date and source", () => {
    const text = JSON.stringify({
      date: "2027-01-05",
      source: "my negotiated prices",
      offers: [
        { instance_type: "g6.2xlarge", gpu: "L4", gpu_count: 1, gpu_memory_gb: 24, vcpus: 8, memory_gb: 32, regions: { "us-east-1": { zones: ["us-east-1a"], on_demand: 0.98, spot: null } } },
        { instance_type: "g5.xlarge", notes: "cheap in Frankfurt", regions: { "eu-central-1": { zones: ["eu-central-1a"], on_demand: 1.2, spot: 0.5 } } },
      ],
    });
    const merged = applyCatalogOverride(aws(), text, "prices.json");
    expect(offer(merged, "g6.2xlarge").regions["us-east-1"].on_demand).toBe(0.98);
    expect(offer(merged, "g5.xlarge")).toMatchObject({ notes: "cheap in Frankfurt", regions: { "eu-central-1": { spot: 0.5 }, "us-east-1": { spot: 0.4 } } });
    expect(merged).toMatchObject({ date: "2027-01-05", source: "my negotiated prices", overridden: ["g6.2xlarge", "g5.xlarge"] });
  });

  it("lets an override clear a spot price", () => {
    const merged = applyCatalogOverride(aws(), "offers:\n  - instance_type: g5.xlarge\n    regions:\n      us-east-1: {spot: null}\n", "o.yaml");
    expect(offer(merged, "g5.xlarge").regions["us-east-1"].spot).toBeNull();
  });

  it("reads an override file from disk (loadCatalog)", () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-catalog-"));
    const file = join(dir, "prices.yaml");
    writeFileSync(file, "cloud: gcp\noffers:\n  - instance_type: g2-standard-4\n    regions:\n      us-central1: {on_demand: 0.7, spot: 0.21}\n");
    const c = loadCatalog("gcp", file);
    expect(offer(c, "g2-standard-4").regions["us-central1"]).toMatchObject({ on_demand: 0.7, spot: 0.21 });
    expect(c.overrideFile).toBe(file);
  });

  // [name, text, code, path, line, words in the message or hint]
  const BAD: [string, string, string, string, number, string][] = [
    ["YAML syntax", "offers:\n  - instance_type: g5.xlarge\n    regions: {us-east-1: {spot: 0.3}\n", "catalog_syntax", "", 4, "invalid YAML"],
    ["JSON syntax", '{"offers": [\n  {"instance_type": "g5.xlarge",}\n  {"x": 1}]}', "catalog_syntax", "", 3, "invalid JSON"],
    ["price as text", "offers:\n  - instance_type: g5.xlarge\n    regions:\n      us-east-1:\n        on_demand: cheap\n", "catalog_invalid", "offers[0].regions.us-east-1.on_demand", 5, 'expected a number, got the text "cheap"'],
    ["negative price", "offers:\n  - instance_type: g5.xlarge\n    regions:\n      us-east-1: {spot: -1}\n", "catalog_invalid", "offers[0].regions.us-east-1.spot", 4, "greater than 0"],
    ["misspelt field", "offers:\n  - instance_type: g5.xlarge\n    regions:\n      us-east-1:\n        on_demnd: 1.1\n", "catalog_invalid", "offers[0].regions.us-east-1.on_demnd", 5, "did you mean `on_demand`?"],
    ["unknown GPU model", "offers:\n  - instance_type: g5.xlarge\n    gpu: A10GX\n", "catalog_invalid", "offers[0].gpu", 3, "expected one of"],
    ["no offers", "date: 2027-01-01\n", "catalog_invalid", "offers", 1, "is required"],
    ["new type incomplete", "offers:\n  - instance_type: g7.xlarge\n    gpu: L4\n", "catalog_incomplete", "offers[0]", 2, "missing gpu_count, gpu_memory_gb, vcpus, memory_gb, regions"],
    ["new region incomplete", "offers:\n  - instance_type: g5.xlarge\n    regions:\n      eu-west-1: {on_demand: 1.2}\n", "catalog_incomplete", "offers[0].regions.eu-west-1", 4, "missing zones, spot"],
    ["new type without regions", "offers:\n  - instance_type: g7.xlarge\n    gpu: L4\n    gpu_count: 1\n    gpu_memory_gb: 24\n    vcpus: 4\n    memory_gb: 16\n    regions: {}\n", "catalog_invalid", "offers[0].regions", 8, "needs at least one region"],
    ["zone outside region", "offers:\n  - instance_type: g5.xlarge\n    regions:\n      us-east-1:\n        zones: [us-east-1a, us-west-2b]\n", "catalog_invalid", "offers[0].regions.us-east-1.zones[1]", 5, "not in region us-east-1"],
    ["duplicate type", "offers:\n  - instance_type: g5.xlarge\n  - instance_type: g5.xlarge\n", "catalog_duplicate", "offers[1].instance_type", 3, "appears twice"],
    ["other cloud", "cloud: gcp\noffers: []\n", "catalog_wrong_cloud", "cloud", 1, "for gcp"],
    ["empty file", "", "catalog_empty", "", 1, "empty"],
    ["a list", "- instance_type: g5.xlarge\n", "catalog_invalid", "", 1, "mapping with an `offers:` list"],
  ];

  it.each(BAD)("reports %s with file, line and field", (_name, text, code, path, line, words) => {
    const err = overrideError(() => applyCatalogOverride(aws(), text, "bad.yaml"));
    const d = err.diagnostics[0];
    expect({ code: d.code, path: d.path, line: d.line, file: d.file }).toEqual({ code, path, line, file: "bad.yaml" });
    expect(`${d.message} ${d.hint ?? ""}`).toContain(words);
    expect(err.message).toContain(`bad.yaml:${line}:`);
  });

  it("reports a missing override file", () => {
    const err = overrideError(() => loadCatalog("aws", "/nonexistent/prices.yaml"));
    expect(err.diagnostics[0]).toMatchObject({ code: "not_found", file: "/nonexistent/prices.yaml" });
  });
});

describe("formatUsd", () => {
  it.each([
    [6.9, "$6.90"],
    [0.526, "$0.526"],
    [0.5, "$0.50"],
    [22, "$22.00"],
    [1234.5, "$1,234.50"],
    [0, "$0.00"],
    [-3.2, "-$3.20"],
  ])("%d → %s", (amount, text) => expect(formatUsd(amount)).toBe(text));
});
