/**
 * What the job runs on, for the status: the instance and its market, from
 * the instance metadata (IMDSv2: instance-id, instance-type,
 * instance-life-cycle = "spot" | "on-demand" | "scheduled", placement/region).
 * A metadata service that does not answer leaves what it could not read
 * unknown: never a reason not to run.
 */
import type { InstanceInfo } from "../host";
import { Imds, imdsEndpoint } from "./imds";

export async function awsInstance(endpoint = imdsEndpoint()): Promise<InstanceInfo> {
  const imds = new Imds(endpoint);
  const read = (path: string) => imds.get(path).catch(() => undefined);
  const [id, type, lifeCycle, region] = await Promise.all([read("instance-id"), read("instance-type"), read("instance-life-cycle"), read("placement/region")]);
  return { type: type ?? "unknown", market: lifeCycle === "spot" ? "spot" : lifeCycle ? "on-demand" : "unknown", ...(id ? { id } : {}), ...(region ? { region } : {}) };
}
