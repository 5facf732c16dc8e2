/**
 * A cloud host: what the runtime needs from the cloud it runs on, one
 * implementation per cloud under `cloud/<id>/`. The runtime picks one from
 * the instance environment (hosts.ts) and never asks which cloud it is on.
 */
import { hostname } from "node:os";
import type { JobSpec } from "../../core/jobspec/schema";

/** "unknown": the metadata service did not say. */
export type Market = "spot" | "on-demand" | "local" | "unknown";

/** What the job runs on, for the status. */
export interface InstanceInfo {
  /** The instance or machine type (g5.xlarge, g2-standard-8), or this machine's host name. */
  type: string;
  market: Market;
  id?: string;
  /** The region (AWS) or zone (GCP) it runs in. */
  region?: string;
}

/** Off a cloud: this machine. */
export function thisMachine(): InstanceInfo {
  return { type: hostname(), market: "local" };
}

/** The cloud's word that this instance will stop soon: the job saves and stops. */
export interface PreemptionNotice {
  /** For the log: "spot interruption notice: terminate at 2026-…". */
  description: string;
  /** Why the job stopped, for its status: "spot interruption notice (terminate at 2026-…)". */
  reason: string;
  /**
   * The whole stop, the final flush included, must end within this long of
   * the notice (ms): the cloud powers the instance off soon after (GCP: about
   * 30 s). The runtime then kills what still runs early enough to flush in
   * time. Absent: the notice leaves minutes (AWS) and the job's grace applies.
   */
  stopWithinMs?: number;
}

export interface PreemptionWatch {
  signal: AbortSignal;
  onNotice: (notice: PreemptionNotice) => void;
  /** An earlier, weaker sign (AWS's rebalance recommendation, GCP's maintenance event): logged, nothing stops. */
  onWarning?: (message: string) => void;
  log: (message: string) => void;
}

export interface CloudHost {
  /** "AWS": for messages. */
  title: string;
  /** Watches for the preemption notice until `signal` aborts (reports it once). Never throws. */
  watchPreemption(o: PreemptionWatch): Promise<void>;
  /** The instance and market; what the metadata server does not answer is unknown, never a reason not to run. */
  instance(): Promise<InstanceInfo>;
  /** Reads the spec's `secrets` from the cloud's secret store; undefined when it names none. */
  secretsReader(spec: Pick<JobSpec, "secrets">): (() => Promise<Record<string, string>>) | undefined;
  /** The job is over: scale the job's own capacity to zero so nothing keeps billing. Logs a failure, never throws. */
  stopBilling(log: (message: string) => void): Promise<void>;
}
