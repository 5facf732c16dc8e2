/**
 * The job's status object in the store: what `spotjob status` reads. Updated
 * on every transition and on a heartbeat, by the lease holder only.
 */
import type { InstanceInfo, Market } from "./cloud/host";
import type { Store } from "./store/store";
import type { LaunchFailure } from "./supervisor/launch-failure";

export type { LaunchFailure } from "./supervisor/launch-failure";

export const STATUS_KEY = "status.json";

export type JobState = "PENDING" | "SETTING_UP" | "RUNNING" | "INTERRUPTED" | "SUCCEEDED" | "FAILED" | "CANCELLED";

export interface JobStatus {
  job: string;
  state: JobState;
  holder: string;
  items: { done: number; failed: number; total: number };
  /** Runs of the runtime for this job (each resume is one more). */
  attempts: number;
  started_at: string;
  heartbeat_at: string;
  /** SHA-256 of the spec the runtime ran (resolved, as JSON): a finished job is finished for this spec only. */
  spec_sha256?: string;
  /** Seconds the runtime has run this job, all attempts together (what `max_runtime_minutes` caps on this machine). */
  run_seconds?: number;
  /** What this attempt runs on (instance type and market), as the runtime found it. */
  instance?: InstanceInfo;
  /** Seconds run per market (spot, on-demand, local), all attempts together. */
  market_seconds?: Partial<Record<Market, number>>;
  finished_at?: string;
  last_error?: string;
  stop_reason?: string;
  exit_code?: number;
}

/** Where the supervisor keeps its state (written by the supervisor only; the status above is the runtime's). */
export const SUPERVISOR_STATE_KEY = "supervisor/state.json";

/**
 * What the supervisor of a cloud job records that the status shows: the money spent so far (instances in service ×
 * price × time, all attempts) and the launch failure it stopped the job for (quota, image, disk, permission) — a job
 * whose instance never launched has no status of its own, so this is the only place that says why. Empty for a job
 * with no supervisor (run on this machine).
 */
export async function readSupervisorRecord(store: Store): Promise<{ spentUsd?: number; launchFailure?: LaunchFailure }> {
  const object = await store.get(SUPERVISOR_STATE_KEY);
  if (!object) return {};
  try {
    const state = JSON.parse(object.body.toString()) as { spentUsd?: number; launchFailure?: LaunchFailure };
    return { ...(typeof state.spentUsd === "number" ? { spentUsd: state.spentUsd } : {}), ...(state.launchFailure ? { launchFailure: state.launchFailure } : {}) };
  } catch {
    return {};
  }
}

/** The runtime rewrites the status every 15 s while it lives: a heartbeat older than this (its lease's life) means it is gone. */
export const HEARTBEAT_STALE_SECONDS = 60;

/**
 * What a status says now: a job recorded as setting up or running whose
 * heartbeat has stopped is LOST (its runtime was killed, crashed, or its
 * machine went away), whatever the status last said.
 */
export function liveState(s: Pick<JobStatus, "state" | "heartbeat_at">, now = Date.now()): { state: JobState | "LOST"; heartbeatAgeSeconds: number } {
  const heartbeatAgeSeconds = Math.max(0, Math.round((now - Date.parse(s.heartbeat_at)) / 1000));
  const active = s.state === "SETTING_UP" || s.state === "RUNNING";
  return { state: active && heartbeatAgeSeconds > HEARTBEAT_STALE_SECONDS ? "LOST" : s.state, heartbeatAgeSeconds };
}

export async function readStatus(store: Store): Promise<JobStatus | undefined> {
  const object = await store.get(STATUS_KEY);
  return object ? (JSON.parse(object.body.toString()) as JobStatus) : undefined;
}

/**
 * Serialises status writes so a heartbeat never overwrites a newer
 * transition; every write carries the heartbeat and the running time so far
 * (earlier attempts' `run_seconds` plus this one's).
 */
export class StatusWriter {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly since = Date.now();
  private readonly before: number;
  private readonly beforeByMarket: Partial<Record<Market, number>>;

  constructor(
    private readonly store: Store,
    private status: JobStatus,
  ) {
    this.before = status.run_seconds ?? 0;
    this.beforeByMarket = status.market_seconds ?? {};
  }

  get current(): Readonly<JobStatus> {
    return this.status;
  }

  /** Seconds this job has run, all attempts together, as of now. */
  runSeconds(): number {
    return this.before + (Date.now() - this.since) / 1000;
  }

  update(change: Partial<JobStatus>): Promise<void> {
    const market = this.status.instance?.market;
    const byMarket = market ? { ...this.beforeByMarket, [market]: Math.round((this.beforeByMarket[market] ?? 0) + (Date.now() - this.since) / 1000) } : this.status.market_seconds;
    this.status = { ...this.status, ...change, heartbeat_at: new Date().toISOString(), run_seconds: Math.round(this.runSeconds()), ...(byMarket ? { market_seconds: byMarket } : {}) };
    const snapshot = JSON.stringify(this.status, null, 2);
    const write = this.chain.then(() => this.store.put(STATUS_KEY, snapshot));
    this.chain = write.catch(() => undefined);
    return write.then(() => undefined);
  }
}
