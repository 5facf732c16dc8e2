/**
 * `spotjob cancel`: a request object in the job's store, so it reaches the
 * runtime wherever it runs (this machine, a cloud instance, one still
 * booting) and the supervisor. The runtime stops as on a signal (progress
 * saved), records CANCELLED and removes the request: a request in the store
 * is one not carried out yet.
 */
import type { Store } from "./store/store";

export const CANCEL_KEY = "cancel.json";

export interface CancelRequest {
  requested_at: string;
  /** Who asked: user@host. */
  by: string;
}

export async function requestCancel(store: Store, by: string, now = new Date()): Promise<CancelRequest> {
  const request: CancelRequest = { requested_at: now.toISOString(), by };
  await store.put(CANCEL_KEY, JSON.stringify(request));
  return request;
}

/** The pending request, if any (an unreadable one still counts: someone asked). */
export async function readCancel(store: Store): Promise<CancelRequest | undefined> {
  const object = await store.get(CANCEL_KEY);
  if (!object) return undefined;
  try {
    return JSON.parse(object.body.toString()) as CancelRequest;
  } catch {
    return { requested_at: new Date(0).toISOString(), by: "unknown (unreadable request)" };
  }
}

export function describeCancel(request: CancelRequest): string {
  return `cancelled by ${request.by} at ${request.requested_at}`;
}

/**
 * Polls the store for a request until `signal` aborts; calls `onCancel` once.
 * A store error is not a request: it is retried on the next poll.
 */
export function watchCancel(store: Store, pollMs: number, signal: AbortSignal, onCancel: (request: CancelRequest) => void): void {
  let seen = false;
  const timer = setInterval(() => {
    if (seen) return;
    void readCancel(store).then(
      (request) => {
        if (!request || seen || signal.aborted) return;
        seen = true;
        clearInterval(timer);
        onCancel(request);
      },
      () => undefined,
    );
  }, pollMs);
  timer.unref();
  signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}
