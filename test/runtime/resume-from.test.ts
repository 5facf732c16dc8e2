/**
 * SWEEP_RESUME_FROM as a URL: file://, presigned http(s):// (a real HTTP
 * server that checks the signature), s3:// on moto_server and gs:// on
 * fake-gcs-server. Missing means a fresh start; a copy that fails its
 * manifest is an error that writes nothing.
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchResumeSource, isRemoteSource, ResumeSourceCorruptError } from "../../runtime/snapshot/resume-from";
import { openStore } from "../../runtime/store/open";
import { createGcsBucket, emulatorEnv } from "../helpers/emulators";
import { sharedGcs, sharedMoto, unique } from "../helpers/shared";

const PROGRESS = JSON.stringify({ done: [1, 2, 3] });
const manifestOf = (body: string) => JSON.stringify({ schema_version: 1, sha256: createHash("sha256").update(body).digest("hex"), size_bytes: Buffer.byteLength(body) });
// The run's emulators, in a bucket of this file's own.
const moto = sharedMoto();
const gcs = sharedGcs();
const hasMoto = moto !== undefined;
const hasGcs = gcs !== undefined;
const BUCKET = unique("resume");
let server: Server;
let httpBase: string;

beforeAll(async () => {
  Object.assign(process.env, emulatorEnv(moto, gcs));
  if (moto) await new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }).send(new CreateBucketCommand({ Bucket: BUCKET }));
  if (gcs) await createGcsBucket(gcs, BUCKET);
  // A presigned-URL server: only the exact signed path and query are served.
  server = createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    if (url.pathname === "/runs/toy.progress.json" && url.searchParams.get("X-Amz-Signature") === "s3cr3t") res.writeHead(200).end(PROGRESS);
    else if (url.pathname === "/runs/missing.progress.json") res.writeHead(404).end();
    else res.writeHead(403).end("SignatureDoesNotMatch");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  httpBase = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}, 120_000);
afterAll(async () => {
  server?.close();
});

const dirs = () => {
  const root = mkdtempSync(join(tmpdir(), "spotjob-resume-"));
  mkdirSync(join(root, "snapshot"));
  return { resume: join(root, "resume"), snapshot: join(root, "snapshot") };
};

describe("SWEEP_RESUME_FROM sources", () => {
  it("knows which values the runtime fetches itself", () => {
    expect(["s3://b/k", "gs://b/k", "https://h/p?sig=1", "http://h/p", "file:///tmp/x"].every(isRemoteSource)).toBe(true);
    expect(["/data/x.json", "data/x.json", ""].some(isRemoteSource)).toBe(false);
  });

  it("a presigned http(s) URL is fetched with its query string intact; 404 is a fresh start", async () => {
    const d = dirs();
    const got = await fetchResumeSource(`${httpBase}/runs/toy.progress.json?X-Amz-Signature=s3cr3t&X-Amz-Expires=60`, d.resume, d.snapshot);
    expect(got.from).toBe("source");
    expect(readFileSync(got.path!, "utf8")).toBe(PROGRESS);
    expect(await fetchResumeSource(`${httpBase}/runs/missing.progress.json?X-Amz-Signature=s3cr3t`, d.resume, d.snapshot)).toEqual({ from: "none" });
  });

  it("the job's own copy in the snapshot directory wins over the source", async () => {
    const d = dirs();
    writeFileSync(join(d.snapshot, "toy.progress.json"), "newer");
    const got = await fetchResumeSource(`${httpBase}/runs/toy.progress.json?X-Amz-Signature=s3cr3t`, d.resume, d.snapshot);
    expect(got).toEqual({ from: "snapshot", path: join(d.snapshot, "toy.progress.json") });
  });

  const stores: [string, () => boolean, string][] = [
    ["file://", () => true, `file://${mkdtempSync(join(tmpdir(), "spotjob-src-"))}`],
    ["s3:// (moto_server)", () => hasMoto, `s3://${BUCKET}/runs`],
    ["gs:// (fake-gcs-server)", () => hasGcs, `gs://${BUCKET}/runs`],
  ];
  describe.each(stores)("%s", (_, available, base) => {
    it.runIf(available())("fetches a copy that matches its manifest, refuses one that does not, and starts fresh when missing", async () => {
      const store = openStore(base);
      await store.put("good.progress.json", PROGRESS);
      await store.put("good.progress.json.manifest.json", manifestOf(PROGRESS));
      await store.put("bad.progress.json", PROGRESS.replace("3", "4"));
      await store.put("bad.progress.json.manifest.json", manifestOf(PROGRESS));
      await store.put("plain.progress.json", PROGRESS);

      const d = dirs();
      const good = await fetchResumeSource(`${base}/good.progress.json`, d.resume, d.snapshot);
      expect(readFileSync(good.path!, "utf8")).toBe(PROGRESS);
      expect((await fetchResumeSource(`${base}/plain.progress.json`, d.resume, d.snapshot)).from).toBe("source");
      expect(await fetchResumeSource(`${base}/absent.progress.json`, d.resume, d.snapshot)).toEqual({ from: "none" });

      const clean = dirs();
      await expect(fetchResumeSource(`${base}/bad.progress.json`, clean.resume, clean.snapshot)).rejects.toThrow(ResumeSourceCorruptError);
      await expect(fetchResumeSource(`${base}/bad.progress.json`, clean.resume, clean.snapshot)).rejects.toThrow(/bad\.progress\.json fails its integrity check \(sha256 .*\); nothing local was overwritten/);
      expect(existsSync(join(clean.resume, "bad.progress.json"))).toBe(false);
    });
  });
});
