/**
 * One contract, every store: the local directory, S3 (moto_server) and GCS
 * (fake-gcs-server), all real. Conditional writes must actually exclude.
 */
import { CreateBucketCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { Storage } from "@google-cloud/storage";
import { OAuth2Client } from "google-auth-library";
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Journal } from "../../runtime/journal/journal";
import { GcsStore } from "../../runtime/store/gcs";
import { HttpStore } from "../../runtime/store/http";
import { LocalDirStore } from "../../runtime/store/local-dir";
import { OnDemandStore } from "../../runtime/store/on-demand";
import { openStore } from "../../runtime/store/open";
import { S3Store } from "../../runtime/store/s3";
import { PreconditionFailed, type Store } from "../../runtime/store/store";
import { digestFile, sha256File } from "../../runtime/store/transfer";
import { createGcsBucket, emulatorEnv } from "../helpers/emulators";
import { startFaultyProxy } from "../helpers/faulty-proxy";
import { sharedGcs, sharedMoto, unique } from "../helpers/shared";

// The run's emulators; every bucket name here is this file's own (unique()).
const moto = sharedMoto();
const gcs = sharedGcs();
const hasMoto = moto !== undefined;
const hasGcs = gcs !== undefined;
let n = 0;

beforeAll(async () => {
  Object.assign(process.env, emulatorEnv(moto, gcs));
}, 60_000);

const factories: Array<[string, boolean, () => Promise<Store>]> = [
  ["local directory", true, async () => new LocalDirStore(mkdtempSync(join(tmpdir(), "spotjob-store-")))],
  [
    "s3 (moto_server)",
    hasMoto,
    async () => {
      const bucket = unique(`bucket-${++n}`);
      await new S3Client({ endpoint: moto!.endpoint, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: bucket }));
      return openStore(`s3://${bucket}/jobs/demo`);
    },
  ],
  [
    "gcs (fake-gcs-server)",
    hasGcs,
    async () => {
      const bucket = unique(`bucket-${++n}`);
      await createGcsBucket(gcs!, bucket);
      return openStore(`gs://${bucket}/jobs/demo`);
    },
  ],
];

/** A file of `mib` MiB that no two slices of repeat (a counter in every 4 KiB), written without holding it in memory. */
function patternedFile(mib: number, seed = 1): string {
  const file = join(mkdtempSync(join(tmpdir(), "spotjob-big-")), "blob.bin");
  const fd = openSync(file, "w");
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((Math.imul(i + seed, 2654435761) ^ seed) >>> 0, i);
  try {
    for (let m = 0; m < mib; m++) {
      for (let at = 0; at < block.length; at += 4096) block.writeUInt32LE(m * 256 + at / 4096, at);
      writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

/** A promise's outcome as Promise.allSettled gives it. */
const settle = <T>(p: Promise<T>): Promise<PromiseSettledResult<T>> => p.then((value) => ({ status: "fulfilled" as const, value }), (reason: unknown) => ({ status: "rejected" as const, reason }));

describe.each(factories)("%s store", (name, available, make) => {
  it.runIf(available)("streams a file of several parts in and out, create-only, byte for byte", async () => {
    const store = await make();
    const file = patternedFile(150); // three parts of 64 MiB (the last one short)
    const digest = await digestFile(file);
    expect(digest.parts).toHaveLength(3);
    await store.putFile(`snapshot/blobs/${digest.sha256}`, file, digest, { ifAbsent: true });
    await expect(store.putFile(`snapshot/blobs/${digest.sha256}`, file, digest, { ifAbsent: true })).rejects.toBeInstanceOf(PreconditionFailed);
    const back = join(mkdtempSync(join(tmpdir(), "spotjob-back-")), "back.bin");
    expect(await store.getToFile(`snapshot/blobs/${digest.sha256}`, back)).toBe(true);
    expect(await sha256File(back)).toBe(digest.sha256);
    expect(await store.getToFile("snapshot/blobs/none", back)).toBe(false);
    expect(await store.list("uploads/")).toEqual([]); // no staging left behind
    // A small file: one request.
    const small = join(mkdtempSync(join(tmpdir(), "spotjob-small-")), "s.json");
    writeFileSync(small, "{}");
    const d2 = await digestFile(small);
    await store.putFile(`snapshot/blobs/${d2.sha256}`, small, d2, { ifAbsent: true });
    expect((await store.get(`snapshot/blobs/${d2.sha256}`))!.body.toString()).toBe("{}");
  }, 120_000);

  it.runIf(available)("stores, lists and deletes objects under its prefix", async () => {
    const store = await make();
    expect(await store.get("missing")).toBeUndefined();
    await store.put("a/1.json", "one");
    await store.put("a/2.json", Buffer.from("two"));
    await store.put("b.json", "three");
    expect((await store.get("a/1.json"))!.body.toString()).toBe("one");
    expect(await store.list("a/")).toEqual(["a/1.json", "a/2.json"]);
    expect(await store.list("")).toEqual(["a/1.json", "a/2.json", "b.json"]);
    // Folders: the first segment below the prefix of keys that go deeper, each once.
    await store.put("c/d/e.json", "four");
    await store.put("c/f.json", "five");
    expect(await store.listFolders("")).toEqual(["a", "c"]);
    expect(await store.listFolders("c/")).toEqual(["d"]);
    expect(await store.listFolders("a/")).toEqual([]);
    expect(await store.listFolders("none/")).toEqual([]);
    await store.delete("c/d/e.json");
    await store.delete("c/f.json");
    await store.delete("a/1.json");
    await store.delete("never-existed");
    expect(await store.list("a/")).toEqual(["a/2.json"]);
  });

  it.runIf(available)("create-only puts exclude a second creator", async () => {
    const store = await make();
    await store.put("lease.json", "first", { ifAbsent: true });
    await expect(store.put("lease.json", "second", { ifAbsent: true })).rejects.toBeInstanceOf(PreconditionFailed);
    expect((await store.get("lease.json"))!.body.toString()).toBe("first");
  });

  it.runIf(available)("compare-and-swap puts succeed once per version", async () => {
    const store = await make();
    const { version } = await store.put("status.json", "v1", { ifAbsent: true });
    const seen = await store.get("status.json");
    expect(seen!.version).toBe(version);
    // Two writers racing on one version. moto checks If-Match and then writes, on separate threads: under load both
    // racers can pass there, where S3 itself serialises conditional writes
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html). On moto the two go one after
    // the other, which checks what the store does with the answer; the other stores' own atomicity is raced.
    const race = name.startsWith("s3") ? async <T>(a: () => Promise<T>, b: () => Promise<T>) => [await settle(a()), await settle(b())] : async <T>(a: () => Promise<T>, b: () => Promise<T>) => Promise.allSettled([a(), b()]);
    const results = await race(
      () => store.put("status.json", "v2-a", { ifVersion: version }),
      () => store.put("status.json", "v2-b", { ifVersion: version }),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toBeInstanceOf(PreconditionFailed);
    await expect(store.put("status.json", "stale", { ifVersion: version })).rejects.toBeInstanceOf(PreconditionFailed);
    await expect(store.put("absent.json", "x", { ifVersion: version })).rejects.toBeInstanceOf(PreconditionFailed);
  });

  it.runIf(available)("carries a journal from one machine to a fresh one", async () => {
    const store = await make();
    const record = (key: string) => ({ v: 1 as const, key, status: "done" as const, attempt: 1, at: new Date().toISOString() });
    const first = await Journal.open({ path: join(mkdtempSync(join(tmpdir(), "j-")), "j.jsonl"), store });
    for (const key of ["a", "b", "c"]) await first.append(record(key));
    await first.close();
    const second = await Journal.open({ path: join(mkdtempSync(join(tmpdir(), "j-")), "j.jsonl"), store });
    expect(second.records.map((r) => r.key)).toEqual(["a", "b", "c"]);
    await second.close();
  });
});

describe("s3 (moto_server) multipart uploads", () => {
  it.runIf(hasMoto)("an interrupted upload's parts are reused, stale uploads of the key aborted, none left behind", async () => {
    const bucket = unique(`multipart-${++n}`);
    const client = new S3Client({ endpoint: moto!.endpoint, forcePathStyle: true, maxAttempts: 1 });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const file = patternedFile(200, 7); // four parts
    const digest = await digestFile(file);
    const key = `jobs/demo/snapshot/blobs/${digest.sha256}`;
    const body = readFileSync(file);
    // A stale upload of the same key, then the one a crash interrupted after its first two parts.
    await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: "SHA256" }));
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: "SHA256" }));
    for (const n of [1, 2]) {
      const part = body.subarray((n - 1) * digest.partSize, n * digest.partSize);
      await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: part, ChecksumSHA256: Buffer.from(digest.parts[n - 1], "hex").toString("base64") }));
    }
    const calls: string[] = [];
    const counted = new S3Client({ endpoint: moto!.endpoint, forcePathStyle: true, maxAttempts: 1 });
    counted.middlewareStack.add((next, context) => (args) => (calls.push(context.commandName as string), next(args)), { step: "initialize", name: "countCalls" });
    const store = new S3Store(bucket, "jobs/demo", { client: counted });
    await store.putFile(`snapshot/blobs/${digest.sha256}`, file, digest, { ifAbsent: true });
    expect(calls.filter((c) => c === "UploadPartCommand")).toHaveLength(2); // parts 3 and 4 only
    expect(calls).toContain("AbortMultipartUploadCommand"); // the stale one
    expect(calls).not.toContain("CreateMultipartUploadCommand");
    expect(calls).toContain("CompleteMultipartUploadCommand");
    expect((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
    const back = join(mkdtempSync(join(tmpdir(), "spotjob-back-")), "back.bin");
    await store.getToFile(`snapshot/blobs/${digest.sha256}`, back);
    expect(await sha256File(back)).toBe(digest.sha256);
  }, 120_000);
});

// S3 checks the SDK's CRC32 (or our SHA-256) on PUT and answers BadDigest, which is retried (see retry.test.ts);
// moto 5.2.1 does not check it, so only GCS, whose check is the client's own, is tested end to end here.
describe("gcs (fake-gcs-server) composite uploads", () => {
  it.runIf(hasGcs)("compose level by level, reuse a part an earlier attempt left, and leave nothing under uploads/", async () => {
    const bucket = unique(`bucket-${++n}`);
    await createGcsBucket(gcs!, bucket);
    // Two sources per compose: the three parts of a 150 MiB file take two levels, as 33+ parts do at GCS's 32.
    const store = new GcsStore(bucket, "jobs/demo", { composeMax: 2 });
    const file = patternedFile(150, 7);
    const digest = await digestFile(file);
    // An earlier attempt sent the second part and then failed: it is there, under its own hash.
    const part = Buffer.alloc(digest.partSize);
    const fd = openSync(file, "r");
    readSync(fd, part, 0, part.length, digest.partSize);
    closeSync(fd);
    await new GcsStore(bucket, "jobs/demo").put(`uploads/${digest.sha256}/00001-${digest.parts[1]}`, part);
    await store.putFile(`snapshot/blobs/${digest.sha256}`, file, digest, { ifAbsent: true });
    const back = join(mkdtempSync(join(tmpdir(), "spotjob-back-")), "back.bin");
    expect(await store.getToFile(`snapshot/blobs/${digest.sha256}`, back)).toBe(true);
    expect(await sha256File(back)).toBe(digest.sha256);
    expect(await store.list("uploads/")).toEqual([]);
  }, 120_000);
});

describe("gcs (fake-gcs-server) store behind a link that corrupts a body in transit", () => {
  it.runIf(hasGcs)("never keeps the corrupted copy: the write is checked end to end and sent again", async () => {
    const bucket = unique(`corrupt-${++n}`);
    await createGcsBucket(gcs!, bucket);
    let requests = 0;
    // The first request's body arrives with one byte flipped; the rest pass untouched.
    const proxy = await startFaultyProxy(gcs!.endpoint, { before: 0, after: 0, hang: 0, corrupt: 1 }, () => (requests++ === 0 ? 0 : 1));
    const saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = proxy.endpoint;
    try {
      const store = openStore(`gs://${bucket}/jobs/demo`);
      const body = JSON.stringify({ done: Array.from({ length: 200 }, (_, i) => i) });
      await store.put("progress.json", body, { ifAbsent: true });
      expect(proxy.counts.corrupt).toBe(1);
      expect((await store.get("progress.json"))!.body.toString()).toBe(body);
      expect(await store.list("")).toEqual(["progress.json"]);
    } finally {
      process.env.STORAGE_EMULATOR_HOST = saved;
      await proxy.close();
    }
  });
});

function withoutEnv<T>(name: string, fn: () => T): T {
  const saved = process.env[name];
  delete process.env[name];
  try {
    return fn();
  } finally {
    if (saved !== undefined) process.env[name] = saved;
  }
}

describe("gcs store credentials", () => {
  it.runIf(hasGcs)("every request, the store's own uploads included, carries the client's credentials", async () => {
    const bucket = unique(`auth-${++n}`);
    await createGcsBucket(gcs!, bucket);
    const proxy = await startFaultyProxy(gcs!.endpoint, { before: 0, after: 0, hang: 0 });
    try {
      // The library's own OAuth2 client with a token already in hand (no token server here).
      const authClient = new OAuth2Client();
      authClient.setCredentials({ access_token: "test-token", expiry_date: Date.now() + 3_600_000 });
      // The client prefers STORAGE_EMULATOR_HOST (set for the other tests) to the endpoint given; this one talks to the proxy.
      const storage = withoutEnv("STORAGE_EMULATOR_HOST", () => new Storage({ apiEndpoint: proxy.endpoint, useAuthWithCustomEndpoint: true, authClient, projectId: "test", retryOptions: { autoRetry: false } }));
      const store = new GcsStore(bucket, "jobs/demo", { storage });
      await store.put("a.json", "one", { ifAbsent: true });
      await store.put(`blob`, "two", { ifAbsent: true, sha256: "3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3" });
      expect((await store.get("a.json"))!.body.toString()).toBe("one");
      expect(proxy.seen.filter((r) => r.url.startsWith("/upload/"))).toHaveLength(2);
      expect(proxy.seen.filter((r) => r.method === "GET").length).toBeGreaterThan(0);
      for (const r of proxy.seen) expect(r.headers.authorization, `${r.method} ${r.url}`).toBe("Bearer test-token");
    } finally {
      await proxy.close();
    }
  });
});

describe("http(s) resume source", () => {
  it("keeps a presigned query string intact and treats 404 as nothing to resume", async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url!);
      if (req.url!.startsWith("/bucket/run/journal/base.jsonl?X-Amz-Signature=abc%2Fdef&X-Amz-Expires=60")) res.end("data");
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const store = new HttpStore(new URL(`http://127.0.0.1:${port}/bucket/run?X-Amz-Signature=abc%2Fdef&X-Amz-Expires=60`));
      expect(store.url).toBe(`http://127.0.0.1:${port}/bucket/run`);
      expect((await store.get("journal/base.jsonl"))!.body.toString()).toBe("data");
      expect(await store.get("missing.json")).toBeUndefined();
      expect(seen[0]).toBe("/bucket/run/journal/base.jsonl?X-Amz-Signature=abc%2Fdef&X-Amz-Expires=60");
      await expect(store.put()).rejects.toThrow(/read-only/);
    } finally {
      server.close();
    }
  });

  it("opens each URL kind; S3 and GCS load their SDK on first use", async () => {
    const [s3, gcs] = [openStore("s3://b/p/q/"), openStore("gs://b")];
    expect(s3).toBeInstanceOf(OnDemandStore);
    expect(gcs).toBeInstanceOf(OnDemandStore);
    expect(await (s3 as OnDemandStore).store()).toBeInstanceOf(S3Store);
    expect(await (gcs as OnDemandStore).store()).toBeInstanceOf(GcsStore);
    // The URL is known before the implementation loads, and it is the implementation's.
    expect([s3.url, gcs.url]).toEqual(["s3://b/p/q", "gs://b"]);
    expect([s3.url, gcs.url]).toEqual([(await (s3 as OnDemandStore).store()).url, (await (gcs as OnDemandStore).store()).url]);
    expect(openStore("./x")).toBeInstanceOf(LocalDirStore);
    expect(openStore("file:///tmp/x")).toBeInstanceOf(LocalDirStore);
    expect(() => openStore("ftp://x/y")).toThrow(/unsupported store URL/);
  });
});
