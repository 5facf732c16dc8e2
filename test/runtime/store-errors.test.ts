/**
 * Each store says what stopped it and what to do (a StoreError with a kind):
 * at once for a permanent problem, after a bounded number of attempts for a
 * transient one; a missing bucket is never taken for a missing object, and a
 * failure of the caller's own file stays the caller's.
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { GcsStore } from "../../runtime/store/gcs";
import { HttpStore } from "../../runtime/store/http";
import { LocalDirStore } from "../../runtime/store/local-dir";
import { GaveUp, isTransient, withRetry } from "../../runtime/store/retry";
import { S3Store } from "../../runtime/store/s3";
import { StoreError, type Store } from "../../runtime/store/store";
import { digestFile } from "../../runtime/store/transfer";
import { createGcsBucket, emulatorEnv } from "../helpers/emulators";
import { sharedGcs, sharedMoto, unique } from "../helpers/shared";

const moto = sharedMoto();
const gcs = sharedGcs();

beforeAll(() => {
  Object.assign(process.env, emulatorEnv(moto, gcs));
});

const temp = (name: string) => mkdtempSync(join(tmpdir(), `spotjob-store-errors-${name}-`));

/** Every call a job makes first, on a store whose bucket does not exist: each must fail, saying so, the first time and after. */
async function expectNoBucket(store: Store, fix: RegExp): Promise<void> {
  const file = join(temp("get"), "out.bin");
  const calls: Array<[string, () => Promise<unknown>]> = [
    ["get", () => store.get("status.json")],
    ["getToFile", () => store.getToFile("snapshot/blobs/abc", file)],
    ["list", () => store.list("logs/")],
    ["put", () => store.put("lease.json", "{}", { ifAbsent: true })],
  ];
  for (const [name, call] of [...calls, ...calls]) {
    const error = await call().then(
      (value) => new Error(`${name} did not fail: it returned ${JSON.stringify(value)}`),
      (e: unknown) => e,
    );
    expect(error, name).toBeInstanceOf(StoreError);
    expect((error as StoreError).kind, name).toBe("no-bucket");
    expect((error as StoreError).message, name).toMatch(fix);
  }
}

describe.runIf(moto)("S3 store (moto_server)", () => {
  it("takes a missing bucket for an error, whichever call meets it first, and a missing key in a bucket for nothing", async () => {
    const bucket = unique("never-made");
    await expectNoBucket(new S3Store(bucket, "jobs/a"), new RegExp(`^store s3://${bucket}/jobs/a: the bucket ${bucket} does not exist \\((NoSuchBucket|404) on \\w+ [^)]+\\); create it with \`aws s3 mb s3://${bucket} --region us-east-1\` or fix --store$`));
    const real = unique("made");
    await new S3Client({ endpoint: moto!.endpoint, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: real }));
    const store = new S3Store(real, "jobs/a");
    expect(await store.getToFile("snapshot/blobs/abc", join(temp("get"), "out.bin"))).toBe(false);
    expect(await store.get("status.json")).toBeUndefined();
  });
});

describe.runIf(gcs)("GCS store (fake-gcs-server)", () => {
  it("takes a missing bucket for an error, whichever call meets it first, and a missing object in a bucket for nothing", async () => {
    const bucket = unique("never-made");
    await expectNoBucket(new GcsStore(bucket, "jobs/a"), new RegExp(`^store gs://${bucket}/jobs/a: the bucket ${bucket} does not exist \\(HTTP 404 on \\w+ [^)]+\\); create it with \`gcloud storage buckets create gs://${bucket}\` or fix --store$`));
    const real = unique("made");
    await createGcsBucket(gcs!, real);
    const store = new GcsStore(real, "jobs/a");
    expect(await store.getToFile("snapshot/blobs/abc", join(temp("get"), "out.bin"))).toBe(false);
    expect(await store.get("status.json")).toBeUndefined();
  });
});

describe("local directory store", () => {
  it("says which path is a file where a folder should be, and leaves the caller's own missing file the caller's error", async () => {
    const dir = temp("file");
    writeFileSync(join(dir, "afile"), "");
    const store = new LocalDirStore(join(dir, "afile", "store"));
    for (const call of [() => store.get("status.json"), () => store.put("lease.json", "{}", { ifAbsent: true }), () => store.list("logs/")]) {
      await expect(call()).rejects.toMatchObject({ kind: "not-a-directory", message: expect.stringMatching(new RegExp(`^store ${dir}/afile/store: ${dir}/afile is a file, not a directory \\(ENOTDIR on \\w+ [^)]+\\); move it away, or choose another directory with --store$`)) });
    }
    // Not the store's fault: the caller's file went away.
    const good = new LocalDirStore(join(dir, "store"));
    const source = join(dir, "source.bin");
    writeFileSync(source, "abc");
    const digest = await digestFile(source);
    await expect(good.putFile("blob", join(dir, "gone.bin"), digest)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(good.putFile("blob", join(dir, "gone.bin"), digest)).rejects.not.toBeInstanceOf(StoreError);
  });

  it("says when the store is under a symbolic link to nowhere (Node's mkdir calls it 'not a directory')", async () => {
    const dir = temp("dangling");
    symlinkSync(join(dir, "missing-target"), join(dir, "dangling"));
    const store = new LocalDirStore(join(dir, "dangling", "store"));
    await expect(store.put("lease.json", "{}", { ifAbsent: true })).rejects.toMatchObject({
      kind: "not-found-path",
      message: `store ${dir}/dangling/store: ${dir}/dangling is a symbolic link to ${dir}/missing-target, which does not exist (ENOENT on put lease.json); create ${dir}/missing-target, or choose another directory with --store`,
    });
  }, 10_000);
});

describe("http(s) store", () => {
  it("is read-only, and says so as a store error", async () => {
    const store = new HttpStore(new URL("http://127.0.0.1:9/bucket/run?X-Amz-Signature=secret"));
    await expect(store.put("lease.json")).rejects.toMatchObject({ kind: "read-only", message: expect.stringMatching(/^store http:\/\/127\.0\.0\.1:9\/bucket\/run: .* is read-only/) });
    await expect(store.put("lease.json")).rejects.not.toThrow(/secret/);
  });
});

describe("retry", () => {
  it("gives up on a transient error after its attempts, saying how many over how long; a permanent one fails at the first", async () => {
    let calls = 0;
    const refused = () => {
      calls++;
      return Promise.reject(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }));
    };
    const error = await withRetry(refused, { attempts: 3, baseMs: 1, maxMs: 2 }).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(error).toBeInstanceOf(GaveUp);
    expect((error as GaveUp).tried).toMatch(/^3 attempts over \d+\.\d s$/);
    expect(isTransient(error)).toBe(true); // an outer layer may still decide to try again
    calls = 0;
    const denied = () => {
      calls++;
      return Promise.reject(Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } }));
    };
    await expect(withRetry(denied, { attempts: 3, baseMs: 1, maxMs: 2 })).rejects.toMatchObject({ name: "AccessDenied" });
    expect(calls).toBe(1);
  });
});
