/**
 * The one place the runtime maps a cloud to its host: the instance
 * environment names the cloud, and only that cloud's modules (and SDKs) load.
 */
import type { CloudId } from "../../core/providers/registry";
import type { InstanceEnv, ParsedInstanceEnv } from "../../core/wire/instance-env";
import type { CloudHost } from "./host";

const HOSTS: { readonly [C in CloudId]: (env: InstanceEnv) => Promise<CloudHost> } = {
  aws: async (env) => (await import("./aws/host.js")).awsHost(env),
  gcp: async (env) => (await import("./gcp/host.js")).gcpHost(env),
};

/** The host this instance runs on, or undefined off a cloud (an unknown cloud name is reported through `warn`). */
export async function cloudHost(parsed: ParsedInstanceEnv, warn: (message: string) => void): Promise<CloudHost | undefined> {
  if (parsed.unknownCloud) warn(`SPOTJOB_CLOUD=${parsed.unknownCloud} names no cloud spotjob knows; running as on a plain machine`);
  return parsed.cloud ? HOSTS[parsed.cloud](parsed) : undefined;
}
