/**
 * The supervisor's capacity control on GCP: the job's managed instance
 * groups through the Compute Engine REST API (runtime/cloud/gcp/compute.ts):
 * the target size, the instances and their state, why a creation failed
 * (launch-failure.ts), and resize. The Cloud Run job calls the API with its
 * service account's token from the metadata server, as an instance does.
 */
import { computeApi, type ComputeApi, type InstanceGroupManager, type ManagedInstance } from "../../cloud/gcp/compute";
import { parseGroupPath, type GroupPath } from "../../../core/wire/gcp-group-path";
import { GceMetadata, metadataEndpoint, metadataTokenSource } from "../../cloud/gcp/metadata";
import type { GroupView } from "../decide";
import type { CapacityControl, SupervisedGroup } from "../execute";
import { failedLaunchOf } from "./launch-failure";

/** Where the supervisor runs, for the fix when it gets no token. */
const RUNS_AS =
  "the supervisor runs as a Cloud Run job, whose metadata server gives the token of the job's supervisor service account: check that the job runs as that account; off Google Cloud set GCE_METADATA_HOST";

/** What to do about a failed call, as the supervisor's error says it. */
export function supervisorFix(status: number, group: GroupPath): string {
  if (status === 401 || status === 403) {
    return `Fix: grant the supervisor's service account compute.instanceGroupManagers.get and compute.instanceGroupManagers.update on ${group.path} (the spotjob Pulumi program binds a custom role for it; run \`pulumi up\` again if it was removed)`;
  }
  if (status === 404) return `Fix: the group ${group.path} does not exist (deleted outside Pulumi?): run \`pulumi up\` to recreate it, or \`pulumi destroy\` to remove the job`;
  if (status === 0 || status === 429 || status >= 500) return "the next scheduled run tries again";
  return "check SPOTJOB_SUPERVISOR's group paths";
}

/** The Compute API as the supervisor's Cloud Run job calls it (GCE_METADATA_HOST and SPOTJOB_COMPUTE_ENDPOINT in `env` point it elsewhere). */
export function supervisorComputeApi(env: NodeJS.ProcessEnv = process.env, o: { metadataTimeoutMs?: number } = {}): ComputeApi {
  const metadata = new GceMetadata(metadataEndpoint(env), o.metadataTimeoutMs ?? 10_000);
  return computeApi(metadataTokenSource(metadata, RUNS_AS), { env, fix: supervisorFix });
}

/** Instances launched (a VM exists and is starting or running), as AWS counts Pending and InService. */
const LAUNCHED = new Set(["PROVISIONING", "STAGING", "RUNNING"]);
/** Actions that take an instance out of the group: it no longer does the job. */
const LEAVING = new Set(["DELETING", "ABANDONING"]);
/** Health states (when the group has an autohealing health check) that say the instance does not work. */
const FAILING_HEALTH = new Set(["UNHEALTHY", "TIMEOUT"]);

export function computeEngineCapacity(api: ComputeApi): CapacityControl {
  return {
    async groupViews(job, now) {
      const view = async (g: SupervisedGroup): Promise<GroupView> => {
        const path = parseGroupPath(g.name);
        const [group, instances] = await Promise.all([api.getGroup(path), api.listManagedInstances(path)]);
        return groupView(g, group, instances, failedLaunchOf(instances, path, now));
      };
      const [spot, onDemand] = await Promise.all([view(job.spot), job.onDemand ? view(job.onDemand) : undefined]);
      return { spot, onDemand };
    },
    setSize: (name, size) => api.resize(parseGroupPath(name), size),
    // The region is in the group's path (a zonal group's zone names it too).
    region: async (job) => parseGroupPath(job.spot.name).region,
  };
}

/** A group as decide() sees it. Pure. */
export function groupView(g: SupervisedGroup, group: InstanceGroupManager, instances: ManagedInstance[], lastLaunch: GroupView["lastLaunch"]): GroupView {
  const inService = instances.filter((i) => LAUNCHED.has(String(i.instanceStatus)) && !LEAVING.has(String(i.currentAction)));
  const healthy = inService.filter((i) => !(i.instanceHealth ?? []).some((h) => FAILING_HEALTH.has(String(h.detailedHealthState))));
  const machineTypes = Object.values(group.instanceFlexibilityPolicy?.instanceSelections ?? {}).flatMap((s) => s.machineTypes ?? []);
  return {
    name: g.name,
    desired: group.targetSize ?? 0,
    inService: inService.length,
    healthy: healthy.length,
    pricePerHour: g.pricePerHour,
    ...(machineTypes.length ? { instanceTypes: [...new Set(machineTypes)] } : {}),
    ...(lastLaunch ? { lastLaunch } : {}),
  };
}
