/**
 * A minimal fake of the GCE metadata server, for the runtime's GCP host, the
 * GCP startup script and the supervisor's token (a Cloud Run job's metadata
 * server answers the same: https://cloud.google.com/run/docs/container-contract#metadata-server).
 * No emulator of it can be installed here, so it
 * serves exactly the endpoints they use, and encodes these protocol facts:
 *
 * - Paths are under `/computeMetadata/v1/` (http://metadata.google.internal,
 *   or the `host:port` in GCE_METADATA_HOST, the variable Google's client
 *   libraries honour).
 *   https://cloud.google.com/compute/docs/metadata/querying-metadata
 * - Every request must carry `Metadata-Flavor: Google`; without it the server
 *   answers 403 ("Missing Metadata-Flavor:Google header."). A request carrying
 *   `X-Forwarded-For` is refused (403) as well, so a proxy cannot relay it.
 *   Every response carries `Metadata-Flavor: Google`.
 *   https://cloud.google.com/compute/docs/metadata/querying-metadata
 * - A value's response carries an `ETag` header. `?wait_for_change=true`
 *   long-polls: the request is held until the value changes, then answers the
 *   new value and its ETag; with `last_etag=E` it answers at once when the
 *   value's ETag is no longer E; with `timeout_sec=N` it answers the current
 *   value after N seconds if nothing changed.
 *   https://cloud.google.com/compute/docs/metadata/querying-metadata (Waiting for change)
 * - A path with no value is 404.
 * - Default values (https://cloud.google.com/compute/docs/metadata/default-metadata-values):
 *   `instance/id` (a number), `instance/machine-type`
 *   (`projects/NUM/machineTypes/TYPE`), `instance/zone` (`projects/NUM/zones/ZONE`),
 *   `instance/scheduling/provisioning-model` (`SPOT` | `STANDARD`; the API also
 *   knows `FLEX_START` and `RESERVATION_BOUND`),
 *   `instance/attributes/<key>` (custom metadata, as set on the instance),
 *   `project/project-id`, `instance/service-accounts/default/token`
 *   (JSON `{"access_token","expires_in","token_type":"Bearer"}`).
 * - `instance/preempted` is `FALSE`, and `TRUE` once Compute Engine preempts
 *   the VM (the flag is set when the ~30 s before power-off begin); watch it
 *   with `?wait_for_change=true`.
 *   https://cloud.google.com/compute/docs/instances/spot#detect-preemption,
 *   https://cloud.google.com/compute/docs/instances/create-use-preemptible#detecting_if_an_instance_was_preempted
 * - `instance/maintenance-event` is `NONE`, `MIGRATE_ON_HOST_MAINTENANCE` or
 *   `TERMINATE_ON_HOST_MAINTENANCE` ahead of host maintenance (about 60 s
 *   ahead, for a VM that has read the key since the last event).
 *   https://cloud.google.com/compute/docs/metadata/getting-live-migration-notice
 *
 * Not modelled: directory listings, `?recursive=true`, `?alt=json`, identity
 * tokens, other service accounts.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface GceMetadataOptions {
  project?: string;
  zone?: string;
  machineType?: string;
  provisioningModel?: "SPOT" | "STANDARD";
  instanceId?: string;
  token?: string;
  attributes?: Record<string, string>;
}

export interface GceMetadataRequest {
  /** Path and query as requested: `/computeMetadata/v1/instance/preempted?wait_for_change=true`. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface GceMetadataFake {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** 127.0.0.1:PORT, the GCE_METADATA_HOST form. */
  host: string;
  /** Compute Engine preempts the VM: `instance/preempted` turns `TRUE`. */
  preempt(): void;
  /** `instance/maintenance-event` becomes `value`. */
  setMaintenanceEvent(value: string): void;
  /** Every request received, in order. */
  requests: GceMetadataRequest[];
  close(): Promise<void>;
}

const BASE = "/computeMetadata/v1/";
/** A project's number, as in `projects/NUM/zones/...`. */
const PROJECT_NUMBER = "123456789012";

interface Value {
  text: string;
  etag: string;
  contentType: string;
}

interface Waiter {
  key: string;
  respond: () => void;
}

export async function startGceMetadata(options: GceMetadataOptions = {}): Promise<GceMetadataFake> {
  const token = options.token ?? `ya29.fake-${randomBytes(12).toString("hex")}`;
  const values = new Map<string, Value>();
  const waiters = new Set<Waiter>();
  const requests: GceMetadataRequest[] = [];
  // An ETag is an opaque hex string that changes with the value.
  const set = (key: string, text: string, contentType = "application/text") => {
    values.set(key, { text, etag: randomBytes(8).toString("hex"), contentType });
    for (const w of [...waiters]) if (w.key === key) w.respond();
  };
  set("instance/id", options.instanceId ?? "4520031799277582855");
  set("instance/machine-type", `projects/${PROJECT_NUMBER}/machineTypes/${options.machineType ?? "g2-standard-4"}`);
  set("instance/zone", `projects/${PROJECT_NUMBER}/zones/${options.zone ?? "us-central1-a"}`);
  set("instance/scheduling/provisioning-model", options.provisioningModel ?? "SPOT");
  set("instance/preempted", "FALSE");
  set("instance/maintenance-event", "NONE");
  set("project/project-id", options.project ?? "spotjob-test");
  set("instance/service-accounts/default/token", JSON.stringify({ access_token: token, expires_in: 3599, token_type: "Bearer" }), "application/json");
  for (const [key, value] of Object.entries(options.attributes ?? {})) set(`instance/attributes/${key}`, value);

  const reply = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Metadata-Flavor": "Google", "Content-Type": "application/text", ...headers });
    res.end(body);
  };
  const sendValue = (res: ServerResponse, v: Value) => reply(res, 200, v.text, { ETag: v.etag, "Content-Type": v.contentType });

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://metadata.google.internal");
    requests.push({ path: `${url.pathname}${url.search}`, headers: { ...req.headers } });
    if (req.method !== "GET") return reply(res, 405, "Method not allowed");
    if (!url.pathname.startsWith(BASE)) return reply(res, 404, "Not found");
    if (req.headers["metadata-flavor"] !== "Google") return reply(res, 403, "Missing Metadata-Flavor:Google header.");
    if (req.headers["x-forwarded-for"] !== undefined) return reply(res, 403, "Request contains an X-Forwarded-For header.");
    const key = url.pathname.slice(BASE.length);
    const current = values.get(key);
    if (!current) return reply(res, 404, "Not found");
    if (url.searchParams.get("wait_for_change") !== "true") return sendValue(res, current);
    const lastEtag = url.searchParams.get("last_etag");
    if (lastEtag !== null && lastEtag !== current.etag) return sendValue(res, current);
    // Held until the value changes, the optional timeout passes, or the client goes away.
    const timeoutSec = Number(url.searchParams.get("timeout_sec"));
    let timer: NodeJS.Timeout | undefined;
    const waiter: Waiter = {
      key,
      respond: () => {
        waiters.delete(waiter);
        clearTimeout(timer);
        if (!res.writableEnded && !res.destroyed) sendValue(res, values.get(key)!);
      },
    };
    waiters.add(waiter);
    if (Number.isFinite(timeoutSec) && timeoutSec > 0) timer = setTimeout(waiter.respond, timeoutSec * 1000);
    res.on("close", () => {
      waiters.delete(waiter);
      clearTimeout(timer);
    });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    preempt: () => set("instance/preempted", "TRUE"),
    setMaintenanceEvent: (value) => set("instance/maintenance-event", value),
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const w of [...waiters]) w.respond();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
