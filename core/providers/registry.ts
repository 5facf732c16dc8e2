/**
 * Every provider a JobConfig may name, and what spotjob does with each: the
 * one table the spec schema, `plan`, offer selection, `spotjob run` and the
 * Pulumi program read. Adding a cloud is adding its entry here (and its
 * deployer, host and catalog); no layer compares provider names itself.
 */
import { andList, orList } from "../catalog/format";

/** Valid in a JobConfig (MADDENING's list, unchanged). */
export const PROVIDER_IDS = ["aws", "gcp", "local", "runpod", "lambda_labs"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/** The providers with a price catalog and instances: the clouds. */
export const CLOUD_IDS = ["aws", "gcp"] as const;
export type CloudId = (typeof CLOUD_IDS)[number];

export interface ProviderEntry {
  id: ProviderId;
  /** As a user reads it: "AWS". */
  title: string;
  /**
   * How a job of this provider starts: `pulumi up` (a cloud stack), this
   * machine (`spotjob run`, or the local stack), or not in this release.
   */
  launch: "stack" | "this-machine" | "none";
  /** Offers are selected from a price catalog of this cloud (`plan` prices the job). */
  cloud?: CloudId;
  /** `secrets:` reference schemes an instance of this provider reads (`ssm:`, an ARN, `gcpsm:`). */
  secretSchemes: readonly string[];
  /** The scheme of the durable store a stack of this provider creates (`s3`, `gs`). */
  storeScheme?: "s3" | "gs";
}

export const PROVIDERS: { readonly [P in ProviderId]: ProviderEntry & { id: P } } = {
  aws: { id: "aws", title: "AWS", launch: "stack", cloud: "aws", secretSchemes: ["ssm", "secretsmanager"], storeScheme: "s3" },
  gcp: { id: "gcp", title: "GCP", launch: "stack", cloud: "gcp", secretSchemes: ["gcpsm"], storeScheme: "gs" },
  local: { id: "local", title: "this machine", launch: "this-machine", secretSchemes: [] },
  runpod: { id: "runpod", title: "RunPod", launch: "none", secretSchemes: [] },
  lambda_labs: { id: "lambda_labs", title: "Lambda Labs", launch: "none", secretSchemes: [] },
};

export function provider(id: ProviderId): ProviderEntry {
  return PROVIDERS[id];
}

/** The providers spotjob can plan and price (a cloud with a catalog, or this machine). */
export function plannable(): ProviderEntry[] {
  return Object.values(PROVIDERS).filter((p) => p.cloud !== undefined || p.launch === "this-machine");
}

/** The providers a job launches on in this release. */
export function launchable(): ProviderEntry[] {
  return Object.values(PROVIDERS).filter((p) => p.launch !== "none");
}

/** Why a spec for `id` cannot launch, and where it can go instead (only to providers that launch). */
export function cannotLaunch(id: ProviderId): { message: string; hint: string } {
  const launching = launchable().map((p) => p.id);
  const pricedOnly = plannable()
    .filter((p) => p.launch === "none")
    .map((p) => p.id);
  const stacks = launchable().filter((p) => p.launch === "stack").map((p) => p.id);
  return {
    message: `spotjob cannot launch on ${id} yet; jobs launch on ${andList(launching)} in this release${pricedOnly.length ? ` (${pricedOnly.join(", ")} can be planned and priced)` : ""}`,
    hint: `change \`provider:\` to ${orList(stacks)} to launch it with \`pulumi up\`, or to local to run it on this machine (the rest of the spec can stay as it is)`,
  };
}
