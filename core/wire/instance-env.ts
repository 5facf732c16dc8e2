/**
 * The instance environment: what a cloud's startup script exports for the
 * runtime, and how the runtime reads it. Both sides use these names and this
 * format; nothing else names them. Pure.
 */
import { CLOUD_IDS, type CloudId } from "../providers/registry";

export const INSTANCE_ENV = {
  /** The cloud this instance runs on (`aws`, `gcp`); unset off a cloud. */
  cloud: "SPOTJOB_CLOUD",
  /** How long the job may take to stop after the first signal. */
  graceSeconds: "SPOTJOB_GRACE_SECONDS",
} as const;

/**
 * The job's own capacity groups, comma-joined, one variable per cloud (the
 * values differ: Auto Scaling group names on AWS, managed instance group
 * paths `projects/P/regions/R/instanceGroupManagers/N` on GCP).
 */
export const GROUPS_ENV: { readonly [C in CloudId]: string } = { aws: "SPOTJOB_AWS_GROUPS", gcp: "SPOTJOB_GCP_GROUPS" };

export interface InstanceEnv {
  cloud?: CloudId;
  groups: string[];
  graceSeconds?: number;
}

/** The variables a startup script exports, in order. A group name may hold no comma and no surrounding space. */
export function formatInstanceEnv(e: InstanceEnv & { cloud: CloudId }): [string, string][] {
  for (const g of e.groups) {
    if (g === "" || g.includes(",") || g.trim() !== g) throw new Error(`instance environment: group ${JSON.stringify(g)} must be non-empty, with no comma and no surrounding whitespace`);
  }
  return [
    [INSTANCE_ENV.cloud, e.cloud],
    [GROUPS_ENV[e.cloud], e.groups.join(",")],
    ...(e.graceSeconds !== undefined ? [[INSTANCE_ENV.graceSeconds, String(e.graceSeconds)] as [string, string]] : []),
  ];
}

/** The instance environment as read, with a cloud name it does not know kept to report. */
export type ParsedInstanceEnv = InstanceEnv & { unknownCloud?: string };

/** What the runtime reads; an unknown cloud name reads as none (the runtime says so, then runs as on a plain machine). */
export function parseInstanceEnv(env: NodeJS.ProcessEnv): ParsedInstanceEnv {
  const name = env[INSTANCE_ENV.cloud] || undefined;
  const cloud = CLOUD_IDS.find((c) => c === name);
  const groupsText = (cloud && env[GROUPS_ENV[cloud]]) || "";
  const grace = Number(env[INSTANCE_ENV.graceSeconds]);
  return {
    ...(cloud ? { cloud } : {}),
    ...(name && !cloud ? { unknownCloud: name } : {}),
    groups: groupsText
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    ...(env[INSTANCE_ENV.graceSeconds] && Number.isFinite(grace) && grace >= 0 ? { graceSeconds: grace } : {}),
  };
}
