/**
 * The runtime's GCP host, piece by piece, against the GCE metadata fake
 * (test/helpers/gce-metadata.ts), the Compute API fake
 * (test/helpers/gce-compute.ts) and a fake Secret Manager (below): the metadata client, the preemption and
 * maintenance watcher, the instance, `gcpsm:` secrets and the end-of-job
 * resize. The end-to-end preemption of a real runtime is gcp-notice.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { gcpSecretVersionName } from "../../core/jobspec/secrets";
import { gcpHost, GCP_STOP_BUDGET_MS } from "../../runtime/cloud/gcp/host";
import { isGroupPath } from "../../core/wire/gcp-group-path";
import { parseInstanceEnv } from "../../core/wire/instance-env";
import { resizeOwnGroupsToZero } from "../../runtime/cloud/gcp/groups";
import { gcpInstance, lastSegment, marketOf } from "../../runtime/cloud/gcp/instance";
import { GceMetadata, MetadataError, metadataEndpoint } from "../../runtime/cloud/gcp/metadata";
import { watchGcpPreemption, type GcpPreemption } from "../../runtime/cloud/gcp/notice";
import { fetchGcpSecrets, gcpSecretsReader, GcpSecretError } from "../../runtime/cloud/gcp/secrets";
import { cloudHost } from "../../runtime/cloud/hosts";
import type { PreemptionNotice } from "../../runtime/cloud/host";
import { startGceCompute } from "../helpers/gce-compute";
import { startGceMetadata, type GceMetadataFake } from "../helpers/gce-metadata";
import { until } from "../helpers/wait";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function metadataFake(options?: Parameters<typeof startGceMetadata>[0]): Promise<GceMetadataFake> {
  const fake = await startGceMetadata(options);
  closers.push(() => fake.close());
  return fake;
}

/** A loopback HTTP server for a fake API; closed after the test. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ endpoint: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const get = (fake: GceMetadataFake, path: string, headers: Record<string, string> = { "Metadata-Flavor": "Google" }) => fetch(`${fake.endpoint}/computeMetadata/v1/${path}`, { headers });

describe("the GCE metadata fake encodes the protocol", () => {
  it("refuses a request without Metadata-Flavor: Google (403), and answers with the header and an ETag", async () => {
    const fake = await metadataFake();
    const bare = await get(fake, "instance/preempted", {});
    expect(bare.status).toBe(403);
    expect(await bare.text()).toContain("Missing Metadata-Flavor:Google header");
    expect((await get(fake, "instance/preempted", { "Metadata-Flavor": "Google", "X-Forwarded-For": "10.0.0.1" })).status).toBe(403);
    const ok = await get(fake, "instance/preempted");
    expect(ok.status).toBe(200);
    expect(ok.headers.get("metadata-flavor")).toBe("Google");
    expect(ok.headers.get("etag")).toMatch(/^[0-9a-f]+$/);
    expect(await ok.text()).toBe("FALSE");
    expect((await get(fake, "instance/no-such-key")).status).toBe(404);
  });

  it("holds a wait_for_change request until the value changes; a stale last_etag answers at once; timeout_sec answers the current value", async () => {
    const fake = await metadataFake();
    const first = await get(fake, "instance/preempted");
    const etag = first.headers.get("etag")!;
    let answered = false;
    const held = get(fake, `instance/preempted?wait_for_change=true&last_etag=${etag}`).then(async (r) => ((answered = true), { text: await r.text(), etag: r.headers.get("etag") }));
    await until("the long poll to reach the fake", () => fake.requests.some((r) => r.path.includes("wait_for_change")));
    expect(answered).toBe(false);
    fake.preempt();
    const changed = await held;
    expect(changed.text).toBe("TRUE");
    expect(changed.etag).not.toBe(etag);
    const stale = await get(fake, `instance/preempted?wait_for_change=true&last_etag=${etag}`);
    expect(await stale.text()).toBe("TRUE");
    const started = Date.now();
    const timedOut = await get(fake, `instance/maintenance-event?wait_for_change=true&timeout_sec=1&last_etag=${(await get(fake, "instance/maintenance-event")).headers.get("etag")}`);
    expect(await timedOut.text()).toBe("NONE");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("serves the instance's identity, its custom attributes and a service-account token", async () => {
    const fake = await metadataFake({ project: "proj-a1", zone: "europe-west4-b", machineType: "a2-highgpu-1g", provisioningModel: "STANDARD", instanceId: "42", token: "ya29.test", attributes: { "spotjob-store": "gs://b/p" } });
    const text = async (path: string) => (await get(fake, path)).text();
    expect(await text("instance/machine-type")).toMatch(/^projects\/\d+\/machineTypes\/a2-highgpu-1g$/);
    expect(await text("instance/zone")).toMatch(/^projects\/\d+\/zones\/europe-west4-b$/);
    expect(await text("instance/id")).toBe("42");
    expect(await text("instance/scheduling/provisioning-model")).toBe("STANDARD");
    expect(await text("project/project-id")).toBe("proj-a1");
    expect(await text("instance/attributes/spotjob-store")).toBe("gs://b/p");
    expect(JSON.parse(await text("instance/service-accounts/default/token"))).toEqual({ access_token: "ya29.test", expires_in: 3599, token_type: "Bearer" });
  });
});

describe("the metadata client", () => {
  it.each([
    [{}, "http://metadata.google.internal"],
    [{ GCE_METADATA_HOST: "127.0.0.1:8080" }, "http://127.0.0.1:8080"],
    [{ GCE_METADATA_HOST: "http://169.254.169.254/" }, "http://169.254.169.254"],
    [{ GCE_METADATA_HOST: " " }, "http://metadata.google.internal"],
  ])("endpoint from %j is %s", (env, endpoint) => {
    expect(metadataEndpoint(env)).toBe(endpoint);
  });

  it("reads values with the header, gives undefined for a 404, and caches the token", async () => {
    const fake = await metadataFake({ token: "ya29.cached" });
    const md = new GceMetadata(metadataEndpoint({ GCE_METADATA_HOST: fake.host }));
    expect((await md.get("instance/preempted"))?.value).toBe("FALSE");
    expect(await md.get("instance/attributes/missing")).toBeUndefined();
    expect(await md.accessToken()).toBe("ya29.cached");
    expect(await md.accessToken()).toBe("ya29.cached");
    expect(fake.requests.filter((r) => r.path.endsWith("/token"))).toHaveLength(1);
    expect(fake.requests.every((r) => r.headers["metadata-flavor"] === "Google")).toBe(true);
    expect(await md.projectId()).toBe("spotjob-test");
  });

  it("refuses a server that does not answer as the metadata server, and names an unreachable one", async () => {
    const impostor = await serve((_req, res) => res.end("FALSE"));
    await expect(new GceMetadata(impostor.endpoint).get("instance/preempted")).rejects.toThrow(/did not answer as the GCE metadata server/);
    const nothing = await serve(() => undefined);
    await expect(new GceMetadata(nothing.endpoint, 200).get("instance/preempted")).rejects.toThrow(MetadataError);
    await expect(new GceMetadata(nothing.endpoint, 200).get("instance/preempted")).rejects.toThrow(/no answer in time/);
  });
});

describe("the preemption watcher", () => {
  it("reports the flag once, when it is set and not before, through a long poll with the last ETag", async () => {
    const fake = await metadataFake();
    const stop = new AbortController();
    const notices: GcpPreemption[] = [];
    const watching = watchGcpPreemption({ metadata: new GceMetadata(fake.endpoint), signal: stop.signal, onPreempted: (n) => notices.push(n) });
    await until("the watcher to long-poll instance/preempted", () => fake.requests.some((r) => r.path.startsWith("/computeMetadata/v1/instance/preempted?wait_for_change=true&last_etag=")));
    expect(notices).toEqual([]);
    const before = Date.now();
    fake.preempt();
    await watching;
    expect(notices).toHaveLength(1);
    expect(Date.parse(notices[0].seenAt)).toBeGreaterThanOrEqual(before - 5);
    expect(Date.parse(notices[0].seenAt) - before).toBeLessThan(2000);
    expect(fake.requests.every((r) => r.headers["metadata-flavor"] === "Google")).toBe(true);
  });

  it("reports a flag that is already set at start", async () => {
    const fake = await metadataFake();
    fake.preempt();
    const notices: GcpPreemption[] = [];
    await watchGcpPreemption({ metadata: new GceMetadata(fake.endpoint), signal: new AbortController().signal, onPreempted: (n) => notices.push(n) });
    expect(notices).toHaveLength(1);
  });

  it("reports maintenance events other than NONE as they come, and stops them with the preemption watch", async () => {
    const fake = await metadataFake();
    const events: string[] = [];
    const notices: GcpPreemption[] = [];
    const watching = watchGcpPreemption({ metadata: new GceMetadata(fake.endpoint), signal: new AbortController().signal, onPreempted: (n) => notices.push(n), onMaintenance: (e) => events.push(e) });
    await until("both long polls", () => ["preempted", "maintenance-event"].every((k) => fake.requests.some((r) => r.path.startsWith(`/computeMetadata/v1/instance/${k}?wait_for_change=true`))));
    fake.setMaintenanceEvent("MIGRATE_ON_HOST_MAINTENANCE");
    await until("the migration event", () => events.length === 1);
    fake.setMaintenanceEvent("NONE");
    fake.setMaintenanceEvent("TERMINATE_ON_HOST_MAINTENANCE");
    await until("the termination event", () => events.length === 2);
    expect(events).toEqual(["MIGRATE_ON_HOST_MAINTENANCE", "TERMINATE_ON_HOST_MAINTENANCE"]);
    fake.preempt();
    await watching; // resolves only once the maintenance watch has ended too
    expect(notices).toHaveLength(1);
  });

  it("keeps trying through errors (reported once), and sees the flag once the server answers again", async () => {
    const fake = await metadataFake();
    let failures = 3;
    // In front of the fake: the first requests fail as a restarting metadata server does (503), then it relays.
    const flaky = await serve(async (req, res) => {
      if (failures-- > 0) {
        res.writeHead(503, { "Metadata-Flavor": "Google" }).end("Service Unavailable");
        return;
      }
      const upstream = await fetch(`${fake.endpoint}${req.url}`, { headers: { "Metadata-Flavor": String(req.headers["metadata-flavor"]) } });
      res.writeHead(upstream.status, Object.fromEntries(upstream.headers.entries())).end(await upstream.text());
    });
    const logs: string[] = [];
    const notices: GcpPreemption[] = [];
    const watching = watchGcpPreemption({ metadata: new GceMetadata(flaky.endpoint), signal: new AbortController().signal, onPreempted: (n) => notices.push(n), log: (m) => logs.push(m), backoff: { minMs: 20, maxMs: 50 } });
    await until("the watcher to long-poll through the relay", () => fake.requests.some((r) => r.path.includes("wait_for_change")));
    fake.preempt();
    await watching;
    expect(notices).toHaveLength(1);
    expect(logs.filter((l) => l.startsWith("cannot read instance/preempted"))).toHaveLength(1);
    expect(logs[0]).toContain("HTTP 503");
    expect(logs).toContain("metadata server reachable again (instance/preempted)");
  });

  it("never throws and ends when its signal aborts, mid long poll or while the server is unreachable", async () => {
    const fake = await metadataFake();
    const stop = new AbortController();
    const notices: GcpPreemption[] = [];
    const watching = watchGcpPreemption({ metadata: new GceMetadata(fake.endpoint), signal: stop.signal, onPreempted: (n) => notices.push(n), onMaintenance: () => undefined });
    await until("the long poll", () => fake.requests.some((r) => r.path.includes("wait_for_change")));
    stop.abort();
    await expect(watching).resolves.toBeUndefined();
    const nowhere = await serve((req) => req.socket.destroy());
    const stop2 = new AbortController();
    const logs: string[] = [];
    const failing = watchGcpPreemption({ metadata: new GceMetadata(nowhere.endpoint), signal: stop2.signal, onPreempted: (n) => notices.push(n), log: (m) => logs.push(m), backoff: { minMs: 10, maxMs: 20 } });
    await until("the failure to be reported", () => logs.length > 0);
    stop2.abort();
    await expect(failing).resolves.toBeUndefined();
    expect(notices).toEqual([]);
  });

  it("the host's notice asks for the stop to end within 25 s, and maintenance is a warning", async () => {
    const fake = await metadataFake();
    const previous = process.env.GCE_METADATA_HOST;
    const warnings: string[] = [];
    let notice: PreemptionNotice | undefined;
    try {
      process.env.GCE_METADATA_HOST = fake.host;
      const h = gcpHost({ cloud: "gcp", groups: [] });
      const watching = h.watchPreemption({ signal: new AbortController().signal, onNotice: (n) => (notice = n), onWarning: (w) => warnings.push(w), log: () => undefined });
      await until("the long polls", () => fake.requests.filter((r) => r.path.includes("wait_for_change")).length >= 2);
      fake.setMaintenanceEvent("TERMINATE_ON_HOST_MAINTENANCE");
      await until("the warning", () => warnings.length === 1);
      fake.preempt();
      await watching;
    } finally {
      if (previous === undefined) delete process.env.GCE_METADATA_HOST;
      else process.env.GCE_METADATA_HOST = previous;
    }
    expect(GCP_STOP_BUDGET_MS).toBe(25_000);
    expect(notice).toMatchObject({ stopWithinMs: 25_000 });
    expect(notice!.description).toMatch(/^GCP preemption notice \(instance\/preempted = TRUE at \d{4}-.*\): the instance powers off in about 30 s$/);
    expect(notice!.reason).toMatch(/^GCP preemption \(instance\/preempted = TRUE at /);
    expect(warnings[0]).toMatch(/TERMINATE_ON_HOST_MAINTENANCE: this instance is to be stopped for host maintenance/);
  });

  it("the host registry gives the GCP host for SPOTJOB_CLOUD=gcp", async () => {
    const host = await cloudHost(parseInstanceEnv({ SPOTJOB_CLOUD: "gcp", SPOTJOB_GCP_GROUPS: "projects/p/regions/r/instanceGroupManagers/g" }), () => undefined);
    expect(host?.title).toBe("GCP");
    expect(host?.secretsReader({ secrets: {} })).toBeUndefined();
  });
});

describe("the instance", () => {
  it.each([
    ["SPOT", "spot"],
    ["spot\n", "spot"],
    ["STANDARD", "on-demand"],
    ["FLEX_START", "on-demand"],
    ["RESERVATION_BOUND", "on-demand"],
    ["SOMETHING_NEW", "unknown"],
    [undefined, "unknown"],
  ])("provisioning model %j is market %s", (model, market) => {
    expect(marketOf(model)).toBe(market);
  });

  it.each([
    ["projects/123/machineTypes/g2-standard-8", "g2-standard-8"],
    ["projects/123/zones/us-central1-a\n", "us-central1-a"],
    ["plain", "plain"],
  ])("the last segment of %j is %s", (path, last) => {
    expect(lastSegment(path)).toBe(last);
  });

  it("reads the machine type, market, id and zone; an unreachable server leaves them unknown", async () => {
    const spot = await metadataFake({ machineType: "g2-standard-4", zone: "us-central1-b", instanceId: "777" });
    expect(await gcpInstance(new GceMetadata(spot.endpoint))).toEqual({ type: "g2-standard-4", market: "spot", id: "777", region: "us-central1-b" });
    const standard = await metadataFake({ provisioningModel: "STANDARD" });
    expect((await gcpInstance(new GceMetadata(standard.endpoint))).market).toBe("on-demand");
    const nowhere = await serve((req) => req.socket.destroy());
    expect(await gcpInstance(new GceMetadata(nowhere.endpoint, 500))).toEqual({ type: "unknown", market: "unknown" });
  });
});

/**
 * A fake Secret Manager: `GET /v1/projects/P/secrets/S/versions/V:access`
 * answers `{"name", "payload": {"data": <base64>}}` for a stored version
 * (`latest` is the highest), 404 NOT_FOUND for none, 403 PERMISSION_DENIED
 * for a secret listed as forbidden, 401 UNAUTHENTICATED without the bearer
 * token, and errors as `{"error": {"code", "message", "status"}}`
 * (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access,
 * https://cloud.google.com/apis/design/errors#http_mapping). `unavailable`
 * first answers are 503 UNAVAILABLE.
 */
async function fakeSecretManager(o: { token: string; secrets: Record<string, string[]>; forbidden?: string[]; unavailable?: number }) {
  const calls: string[] = [];
  let unavailable = o.unavailable ?? 0;
  const error = (res: ServerResponse, code: number, status: string, message: string) => res.writeHead(code, { "Content-Type": "application/json" }).end(JSON.stringify({ error: { code, message, status } }));
  const api = await serve((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, "http://x").pathname);
    calls.push(path);
    if (req.headers.authorization !== `Bearer ${o.token}`) return error(res, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    if (unavailable-- > 0) return error(res, 503, "UNAVAILABLE", "The service is currently unavailable.");
    const m = /^\/v1\/(projects\/[^/]+\/secrets\/[^/]+)\/versions\/([^/]+):access$/.exec(path);
    if (!m) return error(res, 404, "NOT_FOUND", "Not found");
    const [, secret, version] = m;
    if (o.forbidden?.includes(secret)) return error(res, 403, "PERMISSION_DENIED", `Permission 'secretmanager.versions.access' denied for resource '${secret}/versions/${version}' (or it may not exist).`);
    const versions = o.secrets[secret];
    const n = version === "latest" ? versions?.length : Number(version);
    const value = versions?.[(n ?? 0) - 1];
    if (value === undefined) return error(res, 404, "NOT_FOUND", `Secret Version [${secret}/versions/${version}] not found.`);
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ name: `${secret}/versions/${n}`, payload: { data: Buffer.from(value).toString("base64"), dataCrc32c: "0" } }));
  });
  return { endpoint: api.endpoint, calls };
}

describe("gcpsm: secrets", () => {
  it("names the version a reference reads: a bare id is its latest version in the job's project", () => {
    expect(gcpSecretVersionName("hf-token", "proj-a1")).toBe("projects/proj-a1/secrets/hf-token/versions/latest");
    expect(gcpSecretVersionName("projects/other/secrets/x/versions/3", "proj-a1")).toBe("projects/other/secrets/x/versions/3");
  });

  it("reads full and short references with the metadata token, in the instance's project for a short one", async () => {
    const fake = await metadataFake({ project: "proj-a1", token: "ya29.sm" });
    const sm = await fakeSecretManager({ token: "ya29.sm", secrets: { "projects/proj-a1/secrets/hf-token": ["old", "hf-value-2"], "projects/other-proj/secrets/db_pw": ["pw-1", "pw-2"] } });
    const read = gcpSecretsReader({ secrets: { HF_TOKEN: "gcpsm:hf-token", DB_PASSWORD: "gcpsm:projects/other-proj/secrets/db_pw/versions/1" } }, { metadata: new GceMetadata(fake.endpoint), endpoint: sm.endpoint })!;
    expect(await read()).toEqual({ HF_TOKEN: "hf-value-2", DB_PASSWORD: "pw-1" });
    expect(sm.calls).toEqual(["/v1/projects/proj-a1/secrets/hf-token/versions/latest:access", "/v1/projects/other-proj/secrets/db_pw/versions/1:access"]);
    // One token for both, one project look-up.
    expect(fake.requests.filter((r) => r.path.endsWith("/token"))).toHaveLength(1);
    expect(fake.requests.filter((r) => r.path.endsWith("/project-id"))).toHaveLength(1);
  });

  it("tries a 503 again, and reads multi-line and unicode text as it is", async () => {
    const fake = await metadataFake({ token: "t" });
    const value = "line one\nligne deux — ✓";
    const sm = await fakeSecretManager({ token: "t", secrets: { "projects/spotjob-test/secrets/k": [value] }, unavailable: 2 });
    expect(await fetchGcpSecrets([{ env: "K", kind: "gcpsm", ref: "k" }], { metadata: new GceMetadata(fake.endpoint), endpoint: sm.endpoint, retryDelayMs: 5 })).toEqual({ K: value });
    expect(sm.calls).toHaveLength(3);
  });

  it("a missing secret, a refused one and a binary one fail the boot naming each variable, its reference and the fix, never a value", async () => {
    const fake = await metadataFake({ token: "t" });
    const sm = await fakeSecretManager({ token: "t", secrets: { "projects/spotjob-test/secrets/ok": ["the-good-value"], "projects/spotjob-test/secrets/bin": ["\u0000\u00ff"] }, forbidden: ["projects/spotjob-test/secrets/locked"] });
    const read = gcpSecretsReader({ secrets: { OK: "gcpsm:ok", GONE: "gcpsm:gone", LOCKED: "gcpsm:locked", OLD: "gcpsm:projects/spotjob-test/secrets/ok/versions/9" } }, { metadata: new GceMetadata(fake.endpoint), endpoint: sm.endpoint })!;
    const error = await read().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(GcpSecretError);
    const message = error!.message;
    expect(message).toMatch(/^cannot read 3 secrets /);
    expect(message).toContain("GONE (gcpsm:gone): projects/spotjob-test/secrets/gone/versions/latest does not exist (HTTP 404): create the secret and a version (`gcloud secrets create gone --data-file=-`), or fix the reference");
    expect(message).toContain("LOCKED (gcpsm:locked): HTTP 403 PERMISSION_DENIED: Permission 'secretmanager.versions.access' denied");
    expect(message).toContain("the instance's service account needs roles/secretmanager.secretAccessor on projects/spotjob-test/secrets/locked");
    expect(message).toContain("OLD (gcpsm:projects/spotjob-test/secrets/ok/versions/9): projects/spotjob-test/secrets/ok/versions/9 does not exist");
    expect(message).not.toContain("the-good-value");
    await expect(fetchGcpSecrets([{ env: "BIN", kind: "gcpsm", ref: "bin" }], { metadata: new GceMetadata(fake.endpoint), endpoint: sm.endpoint })).rejects.toThrow(/BIN \(gcpsm:bin\): the secret (is binary|holds a NUL byte)/);
  });

  it("a token Secret Manager refuses (401) and an invalid or AWS reference are boot failures too", async () => {
    const fake = await metadataFake({ token: "stale" });
    const sm = await fakeSecretManager({ token: "fresh", secrets: {} });
    await expect(fetchGcpSecrets([{ env: "A", kind: "gcpsm", ref: "a" }], { metadata: new GceMetadata(fake.endpoint), endpoint: sm.endpoint })).rejects.toThrow(/A \(gcpsm:a\): HTTP 401 UNAUTHENTICATED/);
    await expect(fetchGcpSecrets([{ env: "B", kind: "ssm", ref: "/team/b" }], { metadata: new GceMetadata(fake.endpoint), endpoint: sm.endpoint })).rejects.toThrow(/B \(ssm:\/team\/b\): ssm:\/team\/b is read on AWS instances/);
    await expect(gcpSecretsReader({ secrets: { C: "hunter2hunter2" } })!()).rejects.toThrow(/invalid secret reference for C \(check the spec/);
  });
});

/** The Compute API fake, holding the groups by path; closed after the test. */
async function fakeCompute(o: { token: string; groups: string[]; forbidden?: string[] }) {
  const compute = await startGceCompute({ token: o.token });
  closers.push(() => compute.close());
  for (const group of o.groups) compute.groups.set(group, { targetSize: 1, instances: [], forbidden: o.forbidden?.includes(group) });
  return {
    endpoint: compute.endpoint,
    /** Each call as made: its method, path and size. */
    get calls() {
      return compute.calls.map(({ method, path, search }) => ({ method, path, size: new URLSearchParams(search).get("size") }));
    },
  };
}

describe("the end-of-job resize", () => {
  it.each([
    ["projects/proj-a1/regions/us-central1/instanceGroupManagers/job-spot", true],
    ["projects/proj-a1/zones/us-central1-a/instanceGroupManagers/job-standby", true],
    ["projects/proj-a1/regions/us-central1/instanceGroupManagers/job-spot/../../x", false],
    ["projects/proj-a1/regions/us-central1/instanceGroupManagers/Job", false],
    ["job-spot", false],
    ["https://compute.googleapis.com/compute/v1/projects/p/regions/r/instanceGroupManagers/g", false],
  ])("%s is a group path: %s", (path, ok) => {
    expect(isGroupPath(path)).toBe(ok);
  });

  it("resizes each of the job's groups to zero; a refusal and a malformed path are logged with the fix and never thrown", async () => {
    const fake = await metadataFake({ token: "ya29.resize" });
    const spot = "projects/proj-a1/regions/us-central1/instanceGroupManagers/job-spot";
    const standby = "projects/proj-a1/regions/us-central1/instanceGroupManagers/job-standby";
    const compute = await fakeCompute({ token: "ya29.resize", groups: [spot, standby], forbidden: [standby] });
    const logs: string[] = [];
    await resizeOwnGroupsToZero([spot, "not/a/group", standby], (m) => logs.push(m), { metadata: new GceMetadata(fake.endpoint), endpoint: compute.endpoint });
    expect(compute.calls).toEqual([
      { method: "POST", path: `/compute/v1/${spot}/resize`, size: "0" },
      { method: "POST", path: `/compute/v1/${standby}/resize`, size: "0" },
    ]);
    expect(logs[0]).toBe("resized managed instance group job-spot to zero: this job is over");
    expect(logs[1]).toMatch(/^could not resize not\/a\/group to zero \(not a managed instance group path .*\); the supervisor will$/);
    // The Compute API's errors carry no status name (test/helpers/gce-compute.ts).
    expect(logs[2]).toContain(`could not resize ${standby} to zero (HTTP 403: Required 'compute.instanceGroupManagers.update'`);
    expect(logs[2]).toContain("the instance's service account needs compute.instanceGroupManagers.update on the group");
  });

  it("an unreachable metadata server or API is logged, not thrown", async () => {
    const nowhere = await serve((req) => req.socket.destroy());
    const logs: string[] = [];
    await expect(resizeOwnGroupsToZero(["projects/p1-abc/regions/r1/instanceGroupManagers/g"], (m) => logs.push(m), { metadata: new GceMetadata(nowhere.endpoint, 300), endpoint: nowhere.endpoint })).resolves.toBeUndefined();
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^could not resize projects\/p1-abc\/regions\/r1\/instanceGroupManagers\/g to zero \(metadata server .*\); the supervisor will$/);
  });
});
