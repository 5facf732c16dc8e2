/** Every common spelling of a GPU reads as the same canonical request. */
import { describe, expect, it } from "vitest";
import { formatGpuRequest, gpuMatches, parseGpuName, type GpuRequest } from "../../core/catalog";

const SPELLINGS: [string, GpuRequest][] = [
  ["H100", { model: "H100" }],
  ["h100", { model: "H100" }],
  ["H100-SXM", { model: "H100", formFactor: "SXM" }],
  ["H100-SXM5", { model: "H100", formFactor: "SXM" }],
  ["H100SXM5", { model: "H100", formFactor: "SXM" }],
  ["H100-80GB", { model: "H100", memoryGb: 80 }],
  ["nvidia-h100-80gb", { model: "H100", memoryGb: 80 }],
  ["nvidia-h100-mega-80gb", { model: "H100", memoryGb: 80, formFactor: "SXM" }],
  ["NVIDIA H100", { model: "H100" }],
  ["NVIDIA H100 80GB HBM3", { model: "H100", memoryGb: 80 }],
  ["H100 NVL", { model: "H100", formFactor: "NVL" }],
  ["H100-PCIe", { model: "H100", formFactor: "PCIE" }],
  ["A100", { model: "A100" }],
  ["A100-40GB", { model: "A100", memoryGb: 40 }],
  ["A100-80GB", { model: "A100", memoryGb: 80 }],
  ["A100-80GB-SXM", { model: "A100", memoryGb: 80, formFactor: "SXM" }],
  ["A100-SXM4-80GB", { model: "A100", memoryGb: 80, formFactor: "SXM" }],
  ["NVIDIA A100 80GB PCIe", { model: "A100", memoryGb: 80, formFactor: "PCIE" }],
  ["nvidia-tesla-a100", { model: "A100", memoryGb: 40 }],
  ["nvidia-a100-80gb", { model: "A100", memoryGb: 80 }],
  ["L4", { model: "L4" }],
  ["nvidia-l4", { model: "L4" }],
  ["A10G", { model: "A10G" }],
  ["a10g", { model: "A10G" }],
  ["T4", { model: "T4" }],
  ["Tesla-T4", { model: "T4" }],
  ["Tesla T4", { model: "T4" }],
  ["nvidia-tesla-t4", { model: "T4" }],
  ["L40S", { model: "L40S" }],
  ["L40s", { model: "L40S" }],
  ["L40", { model: "L40" }],
  ["H200", { model: "H200" }],
  ["nvidia-h200-141gb", { model: "H200", memoryGb: 141 }],
  ["RTXA4000", { model: "RTXA4000" }],
  ["RTX A4000", { model: "RTXA4000" }],
  ["NVIDIA RTX A6000", { model: "RTXA6000" }],
  ["RTX 6000 Ada", { model: "RTX6000ADA" }],
  ["V100-32GB", { model: "V100", memoryGb: 32 }],
  ["nvidia-tesla-v100", { model: "V100" }],
  ["  h100  ", { model: "H100" }],
];

describe("GPU name normalisation", () => {
  it("covers at least 25 spellings", () => expect(SPELLINGS.length).toBeGreaterThanOrEqual(25));

  it.each(SPELLINGS)("%s", (name, request) => {
    expect(parseGpuName(name)).toEqual({ ok: true, request });
  });

  it.each([
    ["H1000", "unknown_gpu", "H100"],
    ["A1OO", "unknown_gpu", undefined],
    ["RTX4000", "unknown_gpu", "RTXA4000"],
    ["T44", "unknown_gpu", "T4"],
    ["H100-turbo", "unknown_gpu", undefined],
    ["H100-40GB", "unknown_gpu_variant", undefined],
    ["L4-SXM", "unknown_gpu_variant", undefined],
    ["", "unknown_gpu", undefined],
  ])("rejects %j as %s (suggesting %s)", (name, code, suggestion) => {
    const result = parseGpuName(name);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe(code);
    expect(result.suggestion).toBe(suggestion);
    expect(result.message.length).toBeGreaterThan(10);
  });

  it("explains the variants a model comes in", () => {
    const result = parseGpuName("H100-40GB");
    expect(result.ok ? "" : result.message).toBe("H100 comes with 80 or 94 GB, not 40 GB");
  });

  it.each([
    ["A100", { gpu: "A100", gpuMemoryGb: 40, formFactor: "SXM" as const }, true],
    ["A100", { gpu: "A100", gpuMemoryGb: 80, formFactor: "SXM" as const }, true],
    ["A100-80GB", { gpu: "A100", gpuMemoryGb: 40, formFactor: "SXM" as const }, false],
    ["H100-SXM", { gpu: "H100", gpuMemoryGb: 80, formFactor: "SXM" as const }, true],
    ["H100-PCIe", { gpu: "H100", gpuMemoryGb: 80, formFactor: "SXM" as const }, false],
    ["H100-SXM", { gpu: "H100", gpuMemoryGb: 80 }, false],
    ["L4", { gpu: "L40S", gpuMemoryGb: 48 }, false],
  ])("%s matches %j: %s", (name, offer, expected) => {
    const parsed = parseGpuName(name);
    if (!parsed.ok) throw new Error(parsed.message);
    expect(gpuMatches(parsed.request, offer)).toBe(expected);
  });

  it("formats a request back as a user would write it", () => {
    expect(formatGpuRequest({ model: "A100", memoryGb: 80, formFactor: "PCIE" })).toBe("A100-80GB PCIe");
    expect(formatGpuRequest({ model: "H100" })).toBe("H100");
  });
});
