/**
 * What the job runs on, for the status: the instance and its market. On AWS
 * from the instance metadata (IMDSv2: instance-id, instance-type,
 * instance-life-cycle = "spot" | "on-demand" | "scheduled", placement/region);
 * anywhere else this machine, market "local". A metadata service that does
 * not answer leaves what it could not read unknown: never a reason not to run.
 */
import { hostname } from "node:os";
import { Imds, imdsEndpoint } from "./aws-imds";

/** "unknown": the metadata service did not say. */
export type Market = "spot" | "on-demand" | "local" | "unknown";

export interface InstanceInfo {
  /** The instance type (g5.xlarge), or this machine's host name. */
  type: string;
  market: Market;
  id?: string;
  region?: string;
}

export function thisMachine(): InstanceInfo {
  return { type: hostname(), market: "local" };
}

export async function awsInstance(endpoint = imdsEndpoint()): Promise<InstanceInfo> {
  const imds = new Imds(endpoint);
  const read = (path: string) => imds.get(path).catch(() => undefined);
  const [id, type, lifeCycle, region] = await Promise.all([read("instance-id"), read("instance-type"), read("instance-life-cycle"), read("placement/region")]);
  return { type: type ?? "unknown", market: lifeCycle === "spot" ? "spot" : lifeCycle ? "on-demand" : "unknown", ...(id ? { id } : {}), ...(region ? { region } : {}) };
}
