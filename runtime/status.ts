/**
 * The job's status object in the store: what `spotjob status` reads. Updated
 * on every transition and on a heartbeat, by the lease holder only.
 */
import type { Store } from "./store/store";

export const STATUS_KEY = "status.json";

export type JobState = "PENDING" | "SETTING_UP" | "RUNNING" | "INTERRUPTED" | "SUCCEEDED" | "FAILED";

export interface JobStatus {
  job: string;
  state: JobState;
  holder: string;
  items: { done: number; failed: number; total: number };
  /** Runs of the runtime for this job (each resume is one more). */
  attempts: number;
  started_at: string;
  heartbeat_at: string;
  finished_at?: string;
  last_error?: string;
  stop_reason?: string;
  exit_code?: number;
}

export async function readStatus(store: Store): Promise<JobStatus | undefined> {
  const object = await store.get(STATUS_KEY);
  return object ? (JSON.parse(object.body.toString()) as JobStatus) : undefined;
}

/** Serialises status writes so a heartbeat never overwrites a newer transition. */
export class StatusWriter {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private status: JobStatus,
  ) {}

  get current(): Readonly<JobStatus> {
    return this.status;
  }

  update(change: Partial<JobStatus>): Promise<void> {
    this.status = { ...this.status, ...change, heartbeat_at: new Date().toISOString() };
    const snapshot = JSON.stringify(this.status, null, 2);
    const write = this.chain.then(() => this.store.put(STATUS_KEY, snapshot));
    this.chain = write.catch(() => undefined);
    return write.then(() => undefined);
  }
}
