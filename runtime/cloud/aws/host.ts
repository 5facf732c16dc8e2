/**
 * The AWS host: the spot notice from IMDSv2, the instance from its metadata,
 * secrets from SSM and Secrets Manager, and the job's Auto Scaling groups
 * scaled to zero at its end. Each SDK loads only when first used.
 */
import type { InstanceEnv } from "../../../core/wire/instance-env";
import type { CloudHost } from "../host";
import { awsInstance } from "./instance";
import { watchSpotNotice } from "./notice";

export function awsHost(env: InstanceEnv): CloudHost {
  return {
    title: "AWS",
    watchPreemption: (o) =>
      watchSpotNotice({
        signal: o.signal,
        onNotice: (notice) => o.onNotice({ description: `spot interruption notice: ${notice.action} at ${notice.time}`, reason: `spot interruption notice (${notice.action} at ${notice.time})` }),
        onRebalance: (at) => o.onWarning?.(`EC2 rebalance recommendation (${at}): this spot instance is at elevated risk of interruption`),
        log: o.log,
      }),
    instance: () => awsInstance(),
    secretsReader: (spec) => {
      if (!Object.keys(spec.secrets ?? {}).length) return undefined;
      return async () => (await import("./secrets.js")).awsSecretsReader(spec)!();
    },
    stopBilling: async (log) => {
      const groups = await import("./groups.js");
      await groups.scaleOwnGroupsToZero(env.groups, log);
    },
  };
}
