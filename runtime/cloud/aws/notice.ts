/**
 * The EC2 spot interruption notice, read through IMDSv2: a session token
 * (PUT /latest/api/token), then `spot/instance-action` polled every few
 * seconds (404 = nothing scheduled; JSON {action, time} = about two minutes
 * left). The rebalance recommendation, an earlier and weaker signal, is only
 * reported. Polling never throws: an unreachable metadata service is
 * reported once and polled again.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Imds, imdsEndpoint } from "./imds";

export { imdsEndpoint } from "./imds";

export interface SpotNotice {
  action: string;
  time: string;
}

export interface NoticeWatchOptions {
  /** The metadata service; `SPOTJOB_IMDS_ENDPOINT` overrides it for tests. */
  endpoint?: string;
  /** How often to ask (the notice comes ~2 min ahead; AWS suggests every 5 s). */
  intervalMs?: number;
  signal: AbortSignal;
  onNotice: (notice: SpotNotice) => void;
  onRebalance?: (noticeTime: string) => void;
  log?: (message: string) => void;
}

/** Polls until a notice arrives (reported once) or `signal` aborts. */
export async function watchSpotNotice(o: NoticeWatchOptions): Promise<void> {
  const imds = new Imds(o.endpoint ?? imdsEndpoint());
  const interval = o.intervalMs ?? 2000;
  let failing = false;
  let rebalanceSeen = false;
  while (!o.signal.aborted) {
    try {
      const action = await imds.get("spot/instance-action");
      if (action) {
        const notice = JSON.parse(action) as SpotNotice;
        o.onNotice(notice);
        return;
      }
      if (!rebalanceSeen && o.onRebalance) {
        const rebalance = await imds.get("events/recommendations/rebalance");
        if (rebalance) {
          rebalanceSeen = true;
          o.onRebalance((JSON.parse(rebalance) as { noticeTime: string }).noticeTime);
        }
      }
      if (failing) o.log?.("instance metadata service reachable again");
      failing = false;
    } catch (e) {
      if (!failing) o.log?.(`cannot read the spot interruption notice (will keep trying): ${(e as Error).message}`);
      failing = true;
    }
    await sleep(interval, undefined, { signal: o.signal }).catch(() => undefined);
  }
}
