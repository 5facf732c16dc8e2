/**
 * GCP's preemption flag, read from the metadata server: `instance/preempted`
 * is `FALSE` until Compute Engine preempts the VM, then `TRUE`, about 30 s
 * before power-off (https://cloud.google.com/compute/docs/instances/spot#detect-preemption).
 * It is long-polled (`?wait_for_change=true` with the last ETag), so the flag
 * is seen the moment it is set, not at the next poll. `instance/maintenance-event`
 * (`NONE`, `MIGRATE_ON_HOST_MAINTENANCE`, `TERMINATE_ON_HOST_MAINTENANCE`) is
 * watched the same way and only reported: reading it at least once is also
 * what makes Compute Engine give its 60 s warning
 * (https://cloud.google.com/compute/docs/metadata/getting-live-migration-notice).
 * Never throws: an unreachable server is reported once and asked again, with
 * a short backoff (the flag leaves no time to wait long).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { GceMetadata } from "./metadata";

export interface GcpPreemption {
  /** When the flag was seen (ISO 8601). */
  seenAt: string;
}

export interface GcpNoticeWatchOptions {
  metadata?: GceMetadata;
  signal: AbortSignal;
  onPreempted: (notice: GcpPreemption) => void;
  onMaintenance?: (event: string) => void;
  log?: (message: string) => void;
  /** How long one long poll may be held by the server (`timeout_sec`). */
  pollSeconds?: number;
  /** Backoff after a failed request: from `minMs`, doubling up to `maxMs`. */
  backoff?: { minMs: number; maxMs: number };
}

const PREEMPTED = "instance/preempted";
const MAINTENANCE = "instance/maintenance-event";

/** Watches until the flag is seen (reported once) or `signal` aborts. */
export async function watchGcpPreemption(o: GcpNoticeWatchOptions): Promise<void> {
  const metadata = o.metadata ?? new GceMetadata();
  // The maintenance watch ends with the preemption watch, whichever way that ends.
  const done = new AbortController();
  const signal = AbortSignal.any([o.signal, done.signal]);
  const maintenance = o.onMaintenance
    ? watchKey(metadata, MAINTENANCE, { ...o, signal }, (value) => {
        // NONE is the quiet state (and the end of an event); an event already under way at start is reported too.
        if (value !== "NONE") o.onMaintenance!(value);
        return false;
      })
    : Promise.resolve();
  await watchKey(metadata, PREEMPTED, { ...o, signal }, (value) => {
    if (value !== "TRUE") return false;
    o.onPreempted({ seenAt: new Date().toISOString() });
    return true;
  });
  done.abort();
  await maintenance;
}

/**
 * Reads `key`, then long-polls it for changes, handing every value read
 * (first, then each change) to `onValue` until it returns true or the signal
 * aborts.
 */
async function watchKey(metadata: GceMetadata, key: string, o: Pick<GcpNoticeWatchOptions, "signal" | "log" | "pollSeconds" | "backoff">, onValue: (value: string) => boolean): Promise<void> {
  const pollSeconds = o.pollSeconds ?? 60;
  const { minMs, maxMs } = o.backoff ?? { minMs: 250, maxMs: 2000 };
  let etag: string | undefined;
  let last: string | undefined;
  let first = true;
  let delay = minMs;
  let failing = false;
  while (!o.signal.aborted) {
    try {
      const got = first ? await metadata.get(key, o.signal) : await metadata.waitForChange(key, { lastEtag: etag, timeoutSec: pollSeconds, signal: o.signal });
      if (failing) o.log?.(`metadata server reachable again (${key})`);
      failing = false;
      delay = minMs;
      if (!got) {
        // No such key on this server: nothing to watch, and asking again is all there is to do.
        if (!o.signal.aborted) await sleep(maxMs, undefined, { signal: o.signal }).catch(() => undefined);
        continue;
      }
      const value = got.value.trim();
      etag = got.etag;
      if (first || value !== last) {
        const stop = onValue(value);
        last = value;
        first = false;
        if (stop) return;
      }
    } catch (e) {
      if (o.signal.aborted) return;
      if (!failing) o.log?.(`cannot read ${key} from the metadata server (will keep trying): ${(e as Error).message}`);
      failing = true;
      await sleep(delay, undefined, { signal: o.signal }).catch(() => undefined);
      delay = Math.min(maxMs, delay * 2);
    }
  }
}
