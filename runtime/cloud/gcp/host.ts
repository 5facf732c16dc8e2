/**
 * The GCP host: the preemption flag and maintenance events from the metadata
 * server, the instance from its metadata, secrets from Secret Manager, and the
 * job's managed instance groups resized to zero at its end. No SDK: fetch
 * against the metadata server and the REST APIs, with the metadata server's token.
 */
import type { InstanceEnv } from "../../../core/wire/instance-env";
import type { CloudHost } from "../host";
import { gcpInstance } from "./instance";
import { GceMetadata } from "./metadata";
import { watchGcpPreemption } from "./notice";

/**
 * GCP powers a preempted VM off about 30 s after the flag; the stop must be
 * over 5 s before that (time to see the flag, and the guest's own shutdown).
 */
export const GCP_STOP_BUDGET_MS = 25_000;

export function gcpHost(env: InstanceEnv): CloudHost {
  // One client: its token is cached for secrets and the resize alike.
  const metadata = new GceMetadata();
  return {
    title: "GCP",
    watchPreemption: (o) =>
      watchGcpPreemption({
        metadata,
        signal: o.signal,
        onPreempted: ({ seenAt }) =>
          o.onNotice({
            description: `GCP preemption notice (instance/preempted = TRUE at ${seenAt}): the instance powers off in about 30 s`,
            reason: `GCP preemption (instance/preempted = TRUE at ${seenAt})`,
            stopWithinMs: GCP_STOP_BUDGET_MS,
          }),
        onMaintenance: (event) => o.onWarning?.(`GCP host maintenance event ${event}: ${event.startsWith("TERMINATE") ? "this instance is to be stopped for host maintenance" : "this instance is about to be live-migrated"}`),
        log: o.log,
      }),
    instance: () => gcpInstance(metadata),
    secretsReader: (spec) => {
      if (!Object.keys(spec.secrets ?? {}).length) return undefined;
      return async () => (await import("./secrets.js")).gcpSecretsReader(spec, { metadata })!();
    },
    stopBilling: async (log) => {
      const groups = await import("./groups.js");
      await groups.resizeOwnGroupsToZero(env.groups, log, { metadata });
    },
  };
}
