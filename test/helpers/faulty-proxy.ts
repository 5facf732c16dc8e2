/**
 * A loopback HTTP proxy in front of a real emulator that fails a fraction of
 * requests the ways networks do: a 503 before the request reaches the store,
 * a 503 after it was applied (the response is lost), or a hang until the
 * client times out, or (optionally) a request body with one byte flipped in
 * transit. The store emulator behind it is real.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";

export interface FaultRates {
  /** 503 without forwarding. */
  before: number;
  /** Forward, then answer 503 anyway: the write happened, the client cannot know. */
  after: number;
  /** Never answer: the client's timeout must fire. */
  hang: number;
  /** Forward a non-empty request body with one byte flipped: only an end-to-end checksum can tell. */
  corrupt?: number;
}

export interface FaultyProxy {
  endpoint: string;
  counts: { requests: number; before: number; after: number; hang: number; corrupt: number };
  /** Every request as it arrived. */
  seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startFaultyProxy(target: string, rates: FaultRates, random: () => number = Math.random): Promise<FaultyProxy> {
  const upstream = new URL(target);
  const counts = { requests: 0, before: 0, after: 0, hang: 0, corrupt: 0 };
  const seen: FaultyProxy["seen"] = [];
  const hanging = new Set<import("node:http").ServerResponse>();
  const server: Server = createServer((req, res) => {
    counts.requests++;
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    const roll = random();
    if (roll < rates.before) {
      counts.before++;
      req.resume();
      res.writeHead(503, { "content-type": "application/xml" }).end("<Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>");
      return;
    }
    if (roll < rates.before + rates.hang) {
      counts.hang++;
      req.resume();
      hanging.add(res);
      return;
    }
    const loseResponse = roll < rates.before + rates.hang + rates.after;
    const corrupt = !loseResponse && roll < rates.before + rates.hang + rates.after + (rates.corrupt ?? 0);
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      if (loseResponse) {
        counts.after++;
        up.resume();
        up.on("end", () => res.writeHead(503).end());
        return;
      }
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on("error", () => res.writeHead(502).end());
    if (!corrupt) {
      req.pipe(forward);
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (body.length > 0) {
        counts.corrupt++;
        body[body.length >> 1] ^= 0x01;
      }
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    seen,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
