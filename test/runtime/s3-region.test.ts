/**
 * A reused bucket (`spotjob:bucket`) may live in another region than the one
 * the runtime's SDK starts in. S3 then answers every request signed for the
 * wrong region with a redirect, and SDK v3 follows it only when
 * `followRegionRedirects` is on: without it, every store call fails.
 *
 * moto_server serves a bucket from any region, so a loopback proxy in front of
 * it plays S3's part. Protocol facts it encodes:
 * - a request to a bucket, signed (SigV4) for a region that is not the
 *   bucket's, is answered `301 Moved Permanently` with error code
 *   `PermanentRedirect` and the header `x-amz-bucket-region: <bucket's region>`;
 *   a HEAD gets the status and header without a body
 *   (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html,
 *   https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html);
 * - the region a request was signed for is the third field of the
 *   Authorization header's credential scope, `Credential=KEY/DATE/REGION/s3/aws4_request`
 *   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html);
 * - SDK v3's region-redirect middleware re-signs a request for the region in
 *   that header when it gets a 301 carrying it
 *   (@aws-sdk/middleware-sdk-s3, region-redirect-middleware).
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emulatorEnv } from "../helpers/emulators";
import { spawnRuntime } from "../helpers/runtime-process";
import { bundles, sharedMoto, unique } from "../helpers/shared";

const moto = sharedMoto();
const BUCKET_REGION = "eu-west-1";

/** S3 for one bucket region: requests signed for another are redirected, the rest go to moto_server. */
async function regionalS3(target: string, region: string): Promise<{ endpoint: string; redirected: number; forwarded: number; close(): Promise<void> }> {
  const upstream = new URL(target);
  const counts = { redirected: 0, forwarded: 0 };
  const server: Server = createServer((req, res) => {
    const signedFor = /Credential=[^/]+\/\d{8}\/([^/]+)\/s3\/aws4_request/.exec(req.headers.authorization ?? "")?.[1];
    if (signedFor !== region) {
      counts.redirected++;
      req.resume();
      const headers = { "x-amz-bucket-region": region, "content-type": "application/xml" };
      if (req.method === "HEAD") res.writeHead(301, headers).end();
      else res.writeHead(301, headers).end("<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message></Error>");
      return;
    }
    counts.forwarded++;
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on("error", () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get redirected() {
      return counts.redirected;
    },
    get forwarded() {
      return counts.forwarded;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.runIf(moto !== undefined)(`a job whose bucket is in ${BUCKET_REGION} while the runtime starts in us-east-1`, () => {
  const bucket = unique("region");
  let s3: Awaited<ReturnType<typeof regionalS3>>;
  beforeAll(async () => {
    const client = new S3Client({ endpoint: moto!.endpoint, forcePathStyle: true, region: BUCKET_REGION, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    await client.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: BUCKET_REGION } }));
    s3 = await regionalS3(moto!.endpoint, BUCKET_REGION);
  });
  afterAll(() => s3?.close());

  it("runs to the end: every store call follows S3's redirect to the bucket's region", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-region-"));
    const spec = join(dir, "job.yaml");
    writeFileSync(spec, ["provider: local", "name: region", "sweep:", "  items: [{i: 1}, {i: 2}]", '  key: "item-{i}"', '  command: echo "item $SWEEP_KEY" > "$SWEEP_SNAPSHOT_DIR/$SWEEP_KEY.txt"', ""].join("\n"));
    const env = { ...emulatorEnv(moto), AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_REGION: "us-east-1" };
    const run = await spawnRuntime(bundles().runtime, spec, `s3://${bucket}/jobs/region`, join(dir, "machine"), env).done;
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/SUCCEEDED/);
    // The proof that the redirect was met and followed, not avoided: the store was reached only in the bucket's region.
    expect(s3.redirected).toBeGreaterThan(0);
    // Every redirected call was sent again, signed for the bucket's region.
    expect(s3.forwarded).toBeGreaterThanOrEqual(s3.redirected);
  }, 60_000);
});
