/**
 * Single writer: a lease object in the store, taken with a create-only put
 * and renewed by compare-and-swap. Two instances of one job (a spot
 * replacement overlapping the fallback, say) never both write progress: the
 * second waits for the lease to expire or exits, and says which.
 */
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { processStartTime } from "./exec/process-start";
import { PreconditionFailed, type Store } from "./store/store";

export const LEASE_KEY = "lease.json";

export interface LeaseBody {
  holder: string;
  /** Epoch milliseconds after which another instance may take over. */
  expires_at: number;
  acquired_at: string;
}

const WAIT_POLL_MS = 2000;

export class LeaseHeld extends Error {
  constructor(readonly holder: string, readonly expiresAt: number) {
    super(`another instance (${holder}) holds this job's lease until ${new Date(expiresAt).toISOString()}`);
    this.name = "LeaseHeld";
  }
}

export interface LeaseOptions {
  store: Store;
  holder: string;
  ttlMs?: number;
  /** What to do while another holder's lease is live. */
  onBusy?: "wait" | "exit";
  /**
   * Called once when this holder no longer holds the lease: a renewal found
   * someone else's (`taken by <holder>`), or renewals kept failing until it
   * expired (`expired at <time>: …`), after which another instance may take
   * it. Stop writing at once.
   */
  onLost?: (reason: string) => void;
  log?: (message: string) => void;
  now?: () => number;
}

export class Lease {
  private version: string | undefined;
  /** When the lease last written by this holder expires (epoch ms). */
  private expiresAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private lost = false;
  private renewing: Promise<void> | undefined;

  private constructor(private readonly o: Required<Omit<LeaseOptions, "onLost" | "log">> & Pick<LeaseOptions, "onLost" | "log">) {}

  static async acquire(options: LeaseOptions): Promise<Lease> {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as LeaseOptions;
    const lease = new Lease({ ttlMs: 60_000, onBusy: "wait", now: Date.now, ...given });
    await lease.take();
    lease.timer = setInterval(() => {
      // One renewal at a time: overlapping ones would race on the version and look like a loss.
      if (lease.renewing) return;
      lease.renewing = lease
        .renew()
        .catch((e) => lease.o.log?.(`lease renewal failed (will retry): ${(e as Error).message}`))
        .finally(() => (lease.renewing = undefined));
    }, Math.max(50, lease.o.ttlMs / 3));
    lease.timer.unref();
    return lease;
  }

  get holder(): string {
    return this.o.holder;
  }

  private body(): string {
    const body: LeaseBody = { holder: this.o.holder, expires_at: this.o.now() + this.o.ttlMs, acquired_at: new Date(this.o.now()).toISOString() };
    return JSON.stringify(body);
  }

  /** Writes the lease; what it says about expiry holds once the store has it. */
  private async write(condition: { ifAbsent: true } | { ifVersion: string }): Promise<void> {
    const body = this.body();
    this.version = (await this.o.store.put(LEASE_KEY, body, condition)).version;
    this.expiresAt = (JSON.parse(body) as LeaseBody).expires_at;
  }

  private async take(): Promise<void> {
    let announced = false;
    for (;;) {
      const current = await this.o.store.get(LEASE_KEY);
      try {
        if (!current) {
          await this.write({ ifAbsent: true });
          return;
        }
        const held = JSON.parse(current.body.toString()) as LeaseBody;
        const dead = deadLocalHolder(held.holder);
        if (held.holder === this.o.holder || held.expires_at <= this.o.now() || dead) {
          // A lease released on a clean exit (expires_at 0) is free: taking it is not news.
          if (held.holder !== this.o.holder && held.expires_at !== 0) {
            this.o.log?.(dead ? `taking over the lease of ${held.holder}: that process on this machine has exited` : `taking over the lease of ${held.holder}, which expired at ${new Date(held.expires_at).toISOString()}`);
          }
          await this.write({ ifVersion: current.version });
          return;
        }
        if (this.o.onBusy === "exit") throw new LeaseHeld(held.holder, held.expires_at);
        if (!announced) this.o.log?.(`waiting: ${new LeaseHeld(held.holder, held.expires_at).message}`);
        announced = true;
        // Look again soon: a holder that finishes releases the lease at once.
        await sleep(Math.min(Math.max(100, held.expires_at - this.o.now() + 50), this.o.ttlMs / 3, WAIT_POLL_MS));
      } catch (e) {
        if (!(e instanceof PreconditionFailed)) throw e;
        // Someone else moved first: look again.
      }
    }
  }

  /**
   * Extends the lease; if another holder has it now, or renewals failed until
   * it expired (a store cut off: another instance may have taken over since),
   * reports the loss once.
   */
  async renew(): Promise<void> {
    if (this.lost || this.version === undefined) return;
    try {
      await this.write({ ifVersion: this.version });
    } catch (e) {
      if (!(e instanceof PreconditionFailed)) {
        if (this.o.now() < this.expiresAt) throw e;
        this.lost = true;
        this.o.onLost?.(`expired at ${new Date(this.expiresAt).toISOString()}: the store could not be reached to renew it (${(e as Error).message}), and another instance may hold it now`);
        return;
      }
      this.lost = true;
      const current = await this.o.store.get(LEASE_KEY).catch(() => undefined);
      const by = current ? (JSON.parse(current.body.toString()) as LeaseBody).holder : "nobody";
      this.o.onLost?.(`taken by ${by}`);
    }
  }

  get isLost(): boolean {
    return this.lost;
  }

  /** Lets the next instance in at once instead of after the TTL. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
    if (this.lost || this.version === undefined) return;
    const expired: LeaseBody = { holder: this.o.holder, expires_at: 0, acquired_at: new Date(this.o.now()).toISOString() };
    await this.o.store.put(LEASE_KEY, JSON.stringify(expired), { ifVersion: this.version }).catch((e) => {
      if (!(e instanceof PreconditionFailed)) throw e;
    });
    this.version = undefined;
  }
}

/** A holder id for this process: `host:pid:start.random` (start: the process start time, where /proc has it). */
export function localHolderId(suffix: string): string {
  const started = processStartTime(process.pid);
  return `${hostname()}:${process.pid}:${started !== undefined ? `${started}.` : ""}${suffix}`;
}

/**
 * A holder on this very machine whose process has exited (kill -9, a crash)
 * cannot renew: its lease need not be waited out. A process now running under
 * the same pid is another one when its start time differs (pids are reused,
 * after a reboot too).
 */
function deadLocalHolder(holder: string): boolean {
  const [host, pid, rest] = holder.split(":");
  if (host !== hostname() || !/^\d+$/.test(pid ?? "") || Number(pid) === process.pid) return false;
  const recordedStart = /^(\d+)\./.exec(rest ?? "")?.[1];
  try {
    process.kill(Number(pid), 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
  const start = processStartTime(Number(pid));
  return recordedStart !== undefined && start !== undefined && start !== recordedStart;
}
