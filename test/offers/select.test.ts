/** Offer selection for the reference specs, and every refusal located at the field to change. */
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { applyCatalogOverride, bundledCatalog, loadCatalog, type Catalog } from "../../core/catalog";
import { selectOffers, type CloudSelection, type Selection, type SelectionError } from "../../core/offers";
import { loadSpecFile, parseSpec, type LoadedSpec } from "../../core/jobspec/load";

const reference = (name: string) => resolve(__dirname, "../../../shared/reference/jobs", name);

function loadRef(name: string): LoadedSpec {
  const r = loadSpecFile(reference(name));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.loaded;
}

function spec(yaml: string): LoadedSpec {
  const r = parseSpec(yaml, "x.yaml");
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.loaded;
}

function catalogFor(loaded: LoadedSpec): Catalog | undefined {
  const p = loaded.spec.provider;
  return p === "aws" || p === "gcp" ? loadCatalog(p) : undefined;
}

function select(loaded: LoadedSpec, catalog = catalogFor(loaded)): Selection | SelectionError {
  return selectOffers(loaded, catalog);
}

function chosen(loaded: LoadedSpec, catalog?: Catalog): CloudSelection {
  const s = select(loaded, catalog);
  if (!s.ok) throw new Error(JSON.stringify(s.errors));
  if (s.local) throw new Error("expected a cloud selection");
  return s;
}

describe("reference specs", () => {
  it("confinement_h100_aws → p5.4xlarge spot (price bounded by on-demand), on-demand fallback in the same region", () => {
    const s = chosen(loadRef("confinement_h100_aws.yaml"));
    expect(s).toMatchObject({ cloud: "aws", market: "spot", pricePerHour: 6.9, gpu: { model: "H100" }, capacityTypes: ["p5.4xlarge"] });
    // All three regions cost the same; ties go to the first region by name.
    expect(s.chosen).toMatchObject({ instanceType: "p5.4xlarge", region: "us-east-1", spotPerHour: 6.9, spotEstimated: true, onDemandPerHour: 6.9, gpuCount: 1, vcpus: 16, memoryGb: 256 });
    expect(s.fallback).toMatchObject({ instanceType: "p5.4xlarge", region: "us-east-1", onDemandPerHour: 6.9 });
    expect(s.catalog).toMatchObject({ date: "2026-11-24" });
    expect(s.warnings).toEqual([]);
  });

  it("confinement_h100_gcp → a3-highgpu-1g spot, fallback a3-highgpu-1g on-demand with the spot-only caveat", () => {
    const s = chosen(loadRef("confinement_h100_gcp.yaml"));
    expect(s.chosen).toMatchObject({ instanceType: "a3-highgpu-1g", region: "us-central1", spotPerHour: 5, spotEstimated: false, acceleratorType: "nvidia-h100-80gb" });
    expect(s.fallback).toMatchObject({ instanceType: "a3-highgpu-1g", region: "us-central1", onDemandPerHour: 11 });
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0]).toMatchObject({ severity: "warning", code: "on_demand_caveat", path: "cost.spot_fallback", line: 14 });
  });

  it("minimal_l4_gcp → g2-standard-4 spot in us-central1, no fallback", () => {
    const s = chosen(loadRef("minimal_l4_gcp.yaml"));
    expect(s).toMatchObject({ market: "spot", pricePerHour: 0.28, fallback: null, capacityTypes: ["g2-standard-4"] });
    expect(s.chosen).toMatchObject({ instanceType: "g2-standard-4", region: "us-central1", zones: ["us-central1-a", "us-central1-b", "us-central1-c"] });
  });

  it("leaves runpod to the caller, with a located error", () => {
    const s = select(loadRef("rehearsal_a100_runpod.yaml"), undefined);
    expect(s.ok ? null : s.errors[0]).toMatchObject({ code: "unsupported_provider", path: "provider", line: 2 });
  });
});

describe("choosing among feasible offers", () => {
  const H = "provider: aws\ngpu_type: H100\nrun: x\n";

  it.each<[string, string, Partial<CloudSelection>, Record<string, unknown>]>([
    ["on-demand when use_spot is off", `${H}use_spot: false\n`, { market: "on-demand", fallback: null, pricePerHour: 6.9 }, { instanceType: "p5.4xlarge" }],
    ["no fallback without spot_fallback", H, { market: "spot", fallback: null }, { region: "us-east-1" }],
    ["spot_fallback is ignored with use_spot off", `${H}use_spot: false\ncost: {spot_fallback: true}\n`, { fallback: null }, { region: "us-east-1" }],
    ["regions list", `${H}regions: [us-west-2, us-east-2]\n`, {}, { region: "us-east-2" }],
    ["single region", `${H}region: us-west-2\n`, {}, { region: "us-west-2" }],
    ["zones narrow the region and its zones", `${H}zones: [us-west-2d, us-east-1e]\n`, {}, { region: "us-west-2", zones: ["us-west-2d"] }],
    ["8 GPUs", "provider: aws\ngpu_type: H100\ngpu_count: 8\nrun: x\n", { pricePerHour: 25 }, { instanceType: "p5.48xlarge", gpuCount: 8 }],
    ["A100-80GB on 8 GPUs → p4de", "provider: aws\ngpu_type: A100-80GB\ngpu_count: 8\nrun: x\n", { pricePerHour: 5 }, { instanceType: "p4de.24xlarge" }],
    ["A100 on 8 GPUs takes the cheaper spot (p4de)", "provider: aws\ngpu_type: A100\ngpu_count: 8\nrun: x\n", {}, { instanceType: "p4de.24xlarge" }],
    ["A100 on 8 GPUs on-demand takes p4d", "provider: aws\ngpu_type: A100\ngpu_count: 8\nuse_spot: false\nrun: x\n", { pricePerHour: 22 }, { instanceType: "p4d.24xlarge" }],
    ["forced instance type", "provider: gcp\ngpu_type: A100\ninstance_type: a2-ultragpu-1g\nrun: x\n", { capacityTypes: ["a2-ultragpu-1g"] }, { instanceType: "a2-ultragpu-1g" }],
    ["GCP A100 alone → the cheaper 40 GB", "provider: gcp\ngpu_type: A100\nrun: x\n", { capacityTypes: ["a2-highgpu-1g", "a2-ultragpu-1g"] }, { instanceType: "a2-highgpu-1g", region: "us-central1" }],
    ["GCP T4 is attached as an accelerator", "provider: gcp\ngpu_type: Tesla-T4\nrun: x\n", {}, { instanceType: "n1-standard-4", attachAccelerator: true, acceleratorType: "nvidia-tesla-t4" }],
    ["H100-SXM matches p5", "provider: aws\ngpu_type: H100-SXM5\nrun: x\n", {}, { instanceType: "p5.4xlarge" }],
  ])("%s", (_name, yaml, selection, offer) => {
    const s = chosen(spec(yaml));
    expect(s).toMatchObject(selection);
    expect(s.chosen).toMatchObject(offer);
  });

  it("lists every feasible type in the chosen region for the capacity group, cheapest first", () => {
    const catalog = applyCatalogOverride(
      bundledCatalog("aws"),
      "offers:\n  - instance_type: g6.2xlarge\n    gpu: L4\n    gpu_count: 1\n    gpu_memory_gb: 24\n    vcpus: 8\n    memory_gb: 32\n    regions:\n      us-east-1: {zones: [us-east-1a], on_demand: 0.98, spot: 0.5}\n",
      "extra.yaml",
    );
    const s = chosen(spec("provider: aws\ngpu_type: L4\nrun: x\ncost: {spot_fallback: true}\n"), catalog);
    expect(s.chosen).toMatchObject({ instanceType: "g6.xlarge", region: "us-east-1" });
    expect(s.capacityTypes).toEqual(["g6.xlarge", "g6.2xlarge"]);
    expect(s.fallback).toMatchObject({ instanceType: "g6.xlarge", onDemandPerHour: 0.8 });
    expect(s.feasible.map((o) => `${o.instanceType}@${o.region}`)).toEqual(["g6.xlarge@us-east-1", "g6.xlarge@us-east-2", "g6.xlarge@us-west-2", "g6.2xlarge@us-east-1"]);
    expect(s.catalog.overrideFile).toBe("extra.yaml");
  });

  it("follows an override's cheaper spot price to another region", () => {
    const catalog = applyCatalogOverride(bundledCatalog("aws"), "offers:\n  - instance_type: p5.4xlarge\n    regions:\n      us-west-2: {spot: 3.5}\n", "o.yaml");
    const s = chosen(spec("provider: aws\ngpu_type: H100\nrun: x\ncost: {spot_fallback: true}\n"), catalog);
    expect(s.chosen).toMatchObject({ region: "us-west-2", spotPerHour: 3.5, spotEstimated: false });
    // The fallback stays in the chosen region: one stack is one region.
    expect(s.fallback).toMatchObject({ region: "us-west-2", onDemandPerHour: 6.9 });
  });

  it("local runs need no catalog and cost nothing", () => {
    expect(select(spec("provider: local\nrun: x\n"), undefined)).toEqual({ ok: true, local: true, pricePerHour: 0, warnings: [] });
  });

  it("refuses a catalog of the wrong cloud (a caller bug)", () => {
    expect(() => select(spec("provider: aws\ngpu_type: H100\nrun: x\n"), bundledCatalog("gcp"))).toThrow(/expected the aws catalog/);
  });
});

describe("refusals", () => {
  // [name, spec, code, path, line, words in message, words in hint]
  const CASES: [string, string, string, string, number, string[], string][] = [
    [
      "1×A100 on AWS",
      "provider: aws\ngpu_type: A100\ngpu_count: 1\nrun: x\n",
      "gpu_count_not_offered",
      "gpu_count",
      3,
      ["aws sells A100 as 8 per instance", "p4d.24xlarge (8×A100-40GB, $8.00/h spot)", "p4de.24xlarge (8×A100-80GB, $5.00/h spot)"],
      "set gpu_count: 8",
    ],
    ["gpu_count left out points next to gpu_type", "provider: aws\nrun: x\ngpu_type: A100\n", "gpu_count_not_offered", "gpu_count", 3, ["8 per instance"], "set gpu_count: 8"],
    ["3×L4 on GCP suggests the next size up", "provider: gcp\ngpu_type: L4\ngpu_count: 3\nrun: x\n", "gpu_count_not_offered", "gpu_count", 3, ["as 1, 2, 4 or 8 per instance, not 3", "g2-standard-48 (4×L4"], "set gpu_count: 4"],
    ["unknown GPU", "provider: aws\ngpu_type: H1000\nrun: x\n", "unknown_gpu", "gpu_type", 2, ['unknown GPU model "H1000"'], "did you mean `H100`?"],
    ["impossible variant", "provider: aws\ngpu_type: H100-40GB\nrun: x\n", "unknown_gpu_variant", "gpu_type", 2, ["H100 comes with 80 or 94 GB"], "aws offers"],
    ["GPU not on the cloud", "provider: aws\ngpu_type: RTXA4000\nrun: x\n", "gpu_not_offered", "gpu_type", 2, ["aws does not offer RTXA4000", "T4, A10G, L4, L40S, A100, H100, H200"], "or another provider"],
    ["near miss of an offered model", "provider: aws\ngpu_type: A10\nrun: x\n", "gpu_not_offered", "gpu_type", 2, ["aws does not offer A10;"], "did you mean `A10G`?"],
    ["variant not on the cloud", "provider: aws\ngpu_type: H100-PCIe\nrun: x\n", "gpu_not_offered", "gpu_type", 2, ["aws does not sell H100 PCIe", "H100-80GB SXM", "p5.4xlarge (1×H100"], 'gpu_type: "H100"'],
    ["region without the GPU", 'provider: gcp\ngpu_type: H100\nregion: "us-east1"\nrun: x\n', "region_not_offered", "region", 3, ["gcp has no 1×H100 offer in us-east1", "it has them in us-central1"], 'set region: "us-central1"'],
    ["regions without the GPU", "provider: gcp\ngpu_type: A100-80GB\nregions:\n  - us-east1\n  - us-west1\nrun: x\n", "region_not_offered", "regions", 4, ["in any of us-east1, us-west1", "us-central1"], "add one of them to regions"],
    ["misspelt region", "provider: aws\ngpu_type: L4\nregion: us-esat-1\nrun: x\n", "region_not_offered", "region", 3, ["no 1×L4 offer in us-esat-1"], "did you mean `us-east-1`?"],
    ["H200 where only 8 are sold, in a region it is not", "provider: aws\ngpu_type: H200\ngpu_count: 8\nregion: us-west-1\nrun: x\n", "region_not_offered", "region", 4, ["us-east-1, us-east-2, us-west-2"], ""],
    ["zones without the GPU", "provider: aws\ngpu_type: H100\nzones: [us-east-1e]\nrun: x\n", "zone_not_offered", "zones", 3, ["no 1×H100 offer in zone us-east-1e", "us-east-1a"], "remove `zones`"],
    ["instance type with another GPU", "provider: aws\ngpu_type: H100\ninstance_type: p4d.24xlarge\nrun: x\n", "instance_type_mismatch", "instance_type", 3, ["p4d.24xlarge has 8×A100-40GB, not H100"], "p5.4xlarge (1×H100"],
    ["instance type with another GPU count", "provider: aws\ngpu_type: H100\ninstance_type: p5.48xlarge\nrun: x\n", "instance_type_mismatch", "instance_type", 3, ["p5.48xlarge has 8×H100, but gpu_count is 1"], "set gpu_count: 8, or use p5.4xlarge"],
    ["instance type not in the catalog", "provider: aws\ngpu_type: H100\ninstance_type: p5.2xlarge\nrun: x\n", "unknown_instance_type", "instance_type", 3, ["no instance type p5.2xlarge"], "did you mean"],
    ["GCP instance type that is an AWS one", "provider: gcp\ngpu_type: L4\ninstance_type: g6.xlarge\nrun: x\n", "unknown_instance_type", "instance_type", 3, ["gcp catalog has no instance type g6.xlarge"], ""],
  ];

  it.each(CASES)("%s", (_name, yaml, code, path, line, words, hint) => {
    const s = select(spec(yaml));
    expect(s.ok).toBe(false);
    if (s.ok) return;
    expect(s.errors).toHaveLength(1);
    const d = s.errors[0];
    expect({ code: d.code, path: d.path, line: d.line, file: d.file, severity: d.severity }).toEqual({ code, path, line, file: "x.yaml", severity: "error" });
    for (const w of words) expect(d.message).toContain(w);
    expect(d.hint ?? "").toContain(hint);
  });
});
