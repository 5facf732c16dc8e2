/**
 * GPU names as people and vendors write them (`H100-SXM5`, `nvidia-tesla-t4`,
 * `NVIDIA A100 80GB PCIe`) → one canonical request: a model, and optionally
 * the memory size and form factor that narrow it.
 */
import { closest } from "../jobspec/suggest";
import { orList } from "./format";

/** Canonical GPU models, including ones that AWS and GCP do not sell (valid in a spec for other providers). */
export const GPU_MODELS = [
  "B200",
  "GH200",
  "H200",
  "H100",
  "A100",
  "A40",
  "A30",
  "A10G",
  "A10",
  "L40S",
  "L40",
  "L4",
  "T4",
  "V100",
  "P100",
  "P4",
  "K80",
  "RTXA4000",
  "RTXA4500",
  "RTXA5000",
  "RTXA6000",
  "RTX6000ADA",
  "RTX3090",
  "RTX4090",
  "RTX5090",
] as const;
export type GpuModel = (typeof GPU_MODELS)[number];

export const FORM_FACTORS = ["SXM", "PCIE", "NVL"] as const;
/** How the GPU is attached: SXM modules, a PCIe card, or an NVL (NVLink-bridged PCIe) pair. */
export type FormFactor = (typeof FORM_FACTORS)[number];

/** What a spec's `gpu_type` asks for. Unset fields match any variant. */
export interface GpuRequest {
  model: GpuModel;
  memoryGb?: number;
  formFactor?: FormFactor;
}

export type GpuNameResult =
  | { ok: true; request: GpuRequest }
  | {
      ok: false;
      /** `unknown_gpu` (no such model) or `unknown_gpu_variant` (a memory size or form factor the model does not come in). */
      code: "unknown_gpu" | "unknown_gpu_variant";
      message: string;
      /** The closest known model, when the name looks like a typo of one. */
      suggestion?: GpuModel;
    };

/** Memory sizes (GB per GPU) and form factors each model is made in; used to reject `H100-40GB`. */
const VARIANTS: Record<GpuModel, { memoryGb: readonly number[]; formFactors: readonly FormFactor[] }> = {
  B200: { memoryGb: [180, 192], formFactors: ["SXM"] },
  GH200: { memoryGb: [96, 144], formFactors: ["SXM"] },
  H200: { memoryGb: [141], formFactors: ["SXM", "NVL"] },
  H100: { memoryGb: [80, 94], formFactors: ["SXM", "PCIE", "NVL"] },
  A100: { memoryGb: [40, 80], formFactors: ["SXM", "PCIE"] },
  A40: { memoryGb: [48], formFactors: ["PCIE"] },
  A30: { memoryGb: [24], formFactors: ["PCIE"] },
  A10G: { memoryGb: [24], formFactors: ["PCIE"] },
  A10: { memoryGb: [24], formFactors: ["PCIE"] },
  L40S: { memoryGb: [48], formFactors: ["PCIE"] },
  L40: { memoryGb: [48], formFactors: ["PCIE"] },
  L4: { memoryGb: [24], formFactors: ["PCIE"] },
  T4: { memoryGb: [16], formFactors: ["PCIE"] },
  V100: { memoryGb: [16, 32], formFactors: ["SXM", "PCIE"] },
  P100: { memoryGb: [12, 16], formFactors: ["SXM", "PCIE"] },
  P4: { memoryGb: [8], formFactors: ["PCIE"] },
  K80: { memoryGb: [12, 24], formFactors: ["PCIE"] },
  RTXA4000: { memoryGb: [16], formFactors: ["PCIE"] },
  RTXA4500: { memoryGb: [20], formFactors: ["PCIE"] },
  RTXA5000: { memoryGb: [24], formFactors: ["PCIE"] },
  RTXA6000: { memoryGb: [48], formFactors: ["PCIE"] },
  RTX6000ADA: { memoryGb: [48], formFactors: ["PCIE"] },
  RTX3090: { memoryGb: [24], formFactors: ["PCIE"] },
  RTX4090: { memoryGb: [24], formFactors: ["PCIE"] },
  RTX5090: { memoryGb: [32], formFactors: ["PCIE"] },
};

/**
 * Vendor identifiers that mean one exact variant. GCP's `nvidia-tesla-a100` is
 * the 40 GB A100 (the 80 GB one is `nvidia-a100-80gb`).
 */
const EXACT: Record<string, GpuRequest> = {
  "nvidia-tesla-a100": { model: "A100", memoryGb: 40 },
};

/** Other names of a model, after vendor words are dropped and tokens upper-cased. */
const MODEL_ALIASES: Record<string, GpuModel> = {
  A4000: "RTXA4000",
  A4500: "RTXA4500",
  A5000: "RTXA5000",
  A6000: "RTXA6000",
  RTX6000ADA: "RTX6000ADA",
};

/** Words that name the vendor or product line, not the GPU. */
const VENDOR_WORDS = new Set(["NVIDIA", "TESLA", "GEFORCE", "QUADRO"]);
/** Words that say nothing the catalog distinguishes (memory technology, GCP's workstation flavour). */
const NOISE_WORDS = new Set(["HBM2", "HBM2E", "HBM3", "HBM3E", "VWS", "GPU"]);

/** Longest first, so that `L40S` is not read as `L40` + `S`. */
const MODELS_BY_LENGTH = [...GPU_MODELS].sort((a, b) => b.length - a.length);

/**
 * Reads a GPU name in any common spelling. Never throws: an unknown name comes
 * back with a message and, where it looks like a typo, the model it resembles.
 */
export function parseGpuName(name: string): GpuNameResult {
  const exact = EXACT[name.trim().toLowerCase()];
  if (exact) return { ok: true, request: { ...exact } };

  const tokens = name
    .toUpperCase()
    .split(/[\s_\-/]+/)
    .filter((t) => t !== "" && !VENDOR_WORDS.has(t) && !NOISE_WORDS.has(t));
  const joined = joinModelWords(tokens);
  const [first, ...rest] = joined;
  if (first === undefined) return unknown(name, "");

  const split = splitModel(first);
  if (!split) return unknown(name, first);
  const request: GpuRequest = { model: split.model };
  for (const token of [...split.suffixes, ...rest]) {
    const memory = parseMemory(token);
    const formFactor = parseFormFactor(token);
    if (memory !== undefined) request.memoryGb = memory;
    else if (formFactor === "MEGA") request.formFactor = "SXM"; // GCP's H100 Mega is an SXM part
    else if (formFactor) request.formFactor = formFactor;
    else return { ok: false, code: "unknown_gpu", message: `unknown GPU name "${name}": \`${token.toLowerCase()}\` is not a memory size (80GB) or form factor (SXM, PCIe, NVL)` };
  }

  const variants = VARIANTS[request.model];
  if (request.memoryGb !== undefined && !variants.memoryGb.includes(request.memoryGb)) {
    return {
      ok: false,
      code: "unknown_gpu_variant",
      message: `${request.model} comes with ${orList(variants.memoryGb.map(String))} GB, not ${request.memoryGb} GB`,
    };
  }
  if (request.formFactor !== undefined && !variants.formFactors.includes(request.formFactor)) {
    return {
      ok: false,
      code: "unknown_gpu_variant",
      message: `${request.model} is made as ${orList(variants.formFactors.map(formFactorLabel))}, not ${formFactorLabel(request.formFactor)}`,
    };
  }
  return { ok: true, request };
}

/** Whether an offer's GPU satisfies a request: same model, and the memory and form factor when the request names them. */
export function gpuMatches(request: GpuRequest, offer: { gpu: string; gpuMemoryGb: number; formFactor?: FormFactor }): boolean {
  return (
    offer.gpu === request.model &&
    (request.memoryGb === undefined || request.memoryGb === offer.gpuMemoryGb) &&
    (request.formFactor === undefined || request.formFactor === offer.formFactor)
  );
}

/** `A100-80GB SXM`, `H100`: a request as the user would write it. */
export function formatGpuRequest(request: GpuRequest): string {
  const memory = request.memoryGb !== undefined ? `-${request.memoryGb}GB` : "";
  const formFactor = request.formFactor !== undefined ? ` ${formFactorLabel(request.formFactor)}` : "";
  return `${request.model}${memory}${formFactor}`;
}

export function formFactorLabel(f: FormFactor): string {
  return f === "PCIE" ? "PCIe" : f;
}

/** `RTX` + `A4000` → `RTXA4000`; `RTX 6000 Ada` → `RTX6000ADA`. */
function joinModelWords(tokens: string[]): string[] {
  const out = [...tokens];
  if (out[0] === "RTX" && out.length > 1) out.splice(0, 2, `RTX${out[1]}`);
  if (out.length > 1 && out[1] === "ADA") out.splice(0, 2, `${out[0]}ADA`);
  return out;
}

/** A model, possibly with a suffix written onto it: `H100SXM5`, `A100-80GB` is split earlier. */
function splitModel(token: string): { model: GpuModel; suffixes: string[] } | undefined {
  const alias = MODEL_ALIASES[token];
  if (alias) return { model: alias, suffixes: [] };
  if ((GPU_MODELS as readonly string[]).includes(token)) return { model: token as GpuModel, suffixes: [] };
  for (const model of MODELS_BY_LENGTH) {
    const rest = token.slice(model.length);
    if (token.startsWith(model) && (parseMemory(rest) !== undefined || parseFormFactor(rest) !== undefined)) {
      return { model, suffixes: [rest] };
    }
  }
  return undefined;
}

function parseMemory(token: string): number | undefined {
  const m = /^(\d{1,3})(GB|G)$/.exec(token);
  return m ? Number(m[1]) : undefined;
}

function parseFormFactor(token: string): FormFactor | "MEGA" | undefined {
  if (/^SXM\d?$/.test(token)) return "SXM";
  if (token === "PCIE" || token === "PCI") return "PCIE";
  if (token === "NVL") return "NVL";
  if (token === "MEGA") return "MEGA";
  return undefined;
}

function unknown(name: string, modelToken: string): GpuNameResult {
  const suggestion = modelToken ? (closest(modelToken, GPU_MODELS) as GpuModel | undefined) : undefined;
  return { ok: false, code: "unknown_gpu", message: `unknown GPU model "${name}"`, suggestion };
}
