/**
 * The EC2 spot interruption notice, read through IMDSv2: a session token
 * (PUT /latest/api/token), then `spot/instance-action` polled every few
 * seconds (404 = nothing scheduled; JSON {action, time} = about two minutes
 * left). The rebalance recommendation, an earlier and weaker signal, is only
 * reported. Polling never throws: an unreachable metadata service is
 * reported once and polled again.
 */
import { setTimeout as sleep } from "node:timers/promises";

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

const TOKEN_TTL_SECONDS = 21600;
const REQUEST_TIMEOUT_MS = 2000;

export function imdsEndpoint(): string {
  return process.env.SPOTJOB_IMDS_ENDPOINT || "http://169.254.169.254";
}

class Imds {
  private token: string | undefined;
  private tokenExpires = 0;

  constructor(private readonly endpoint: string) {}

  private async fetchToken(): Promise<string> {
    const response = await fetch(`${this.endpoint}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": String(TOKEN_TTL_SECONDS) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`IMDSv2 token: HTTP ${response.status}`);
    this.token = await response.text();
    // Renew well before it lapses.
    this.tokenExpires = Date.now() + (TOKEN_TTL_SECONDS * 1000) / 2;
    return this.token;
  }

  /** The body of a metadata path, or undefined for 404. */
  async get(path: string): Promise<string | undefined> {
    for (let retried = false; ; retried = true) {
      const token = this.token && Date.now() < this.tokenExpires ? this.token : await this.fetchToken();
      const response = await fetch(`${this.endpoint}/latest/meta-data/${path}`, { headers: { "X-aws-ec2-metadata-token": token }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      if (response.status === 401 && !retried) {
        this.token = undefined; // expired or revoked: one fresh token, then give up this round
        continue;
      }
      if (response.status === 404) return undefined;
      if (!response.ok) throw new Error(`IMDS ${path}: HTTP ${response.status}`);
      return response.text();
    }
  }
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
