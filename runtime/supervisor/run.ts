/**
 * One scheduled supervisor run, configured only by SPOTJOB_SUPERVISOR
 * (core/wire/supervisor-config.ts): the AWS Lambda (lambda.ts) and the GCP
 * Cloud Run job (`node runtime.cjs supervise`, runtime/main.ts) both call
 * this. The job's store URL says which cloud the job is on (its scheme is the
 * store scheme of one provider in core/providers/registry.ts), and only that
 * cloud's capacity control (and SDK) loads.
 */
import { CLOUD_IDS, PROVIDERS, type CloudId } from "../../core/providers/registry";
import { parseStoreUrl, type ObjectScheme } from "../../core/wire/store-url";
import { supervisorConfigFromEnv, type SupervisorConfig } from "../../core/wire/supervisor-config";
import { openStore } from "../store/open";
import { superviseWith, type CapacityControl } from "./execute";

/** SPOTJOB_SUPERVISOR is missing or wrong: the Pulumi program writes it, so the fix is there (or in a hand edit). */
export class SupervisorConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SupervisorConfigError";
  }
}

/** What one run did, as the scheduled function logs it (one JSON line). */
export interface SupervisorSummary {
  scale: Record<string, number>;
  events: string[];
  spentUsd: number;
}

/** Each cloud's capacity control, loaded on first use. A group the cloud cannot name is a configuration error. */
const CONTROLS: { readonly [C in CloudId]: (config: SupervisorConfig, env: NodeJS.ProcessEnv) => Promise<CapacityControl> } = {
  aws: async () => {
    const [{ AutoScalingClient }, { recordAwsCalls }, { autoScalingCapacity }] = await Promise.all([import("@aws-sdk/client-auto-scaling"), import("../cloud/aws/call-log.js"), import("./aws/capacity.js")]);
    return autoScalingCapacity(recordAwsCalls(new AutoScalingClient({})));
  },
  gcp: async (config, env) => {
    const [{ computeEngineCapacity, supervisorComputeApi }, { parseGroupPath }] = await Promise.all([import("./gcp/capacity.js"), import("../../core/wire/gcp-group-path.js")]);
    for (const g of [config.spot, ...(config.onDemand ? [config.onDemand] : [])]) {
      try {
        parseGroupPath(g.name);
      } catch (e) {
        throw new SupervisorConfigError((e as Error).message);
      }
    }
    return computeEngineCapacity(supervisorComputeApi(env));
  },
};

/** The cloud whose stacks keep their store under this scheme (the registry's `storeScheme`). */
function cloudOfStore(scheme: ObjectScheme): CloudId {
  const cloud = CLOUD_IDS.find((c) => PROVIDERS[c].storeScheme === scheme);
  if (!cloud) throw new SupervisorConfigError(`no cloud keeps its store under ${scheme}://`);
  return cloud;
}

export function readSupervisorConfig(env: NodeJS.ProcessEnv): SupervisorConfig {
  try {
    return supervisorConfigFromEnv(env);
  } catch (e) {
    throw new SupervisorConfigError((e as Error).message);
  }
}

export async function superviseFromEnv(env: NodeJS.ProcessEnv = process.env, now = Date.now()): Promise<SupervisorSummary> {
  const config = readSupervisorConfig(env);
  const at = parseStoreUrl(config.store);
  // The schema admits only object store URLs; this narrows the type.
  if (at.kind !== "object") throw new SupervisorConfigError(`SPOTJOB_SUPERVISOR's store ${config.store} is not an s3:// or gs:// URL`);
  const control = await CONTROLS[cloudOfStore(at.scheme)](config, env);
  const decision = await superviseWith({ store: openStore(config.store), spot: config.spot, onDemand: config.onDemand, policy: config.policy }, control, now);
  return { scale: decision.scale, events: decision.events, spentUsd: decision.state.spentUsd };
}
