/**
 * The job's bucket under Pulumi's mocks: lifecycle rules with explicit
 * filters (an empty filter is deprecated and will be an error), and a destroy
 * notice whose advice works on a versioned bucket.
 */
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { JobBucket } from "../../infra/aws/bucket";
import { recordingMocks, settled, type RecordedResource } from "../../infra/preview/recording-mocks";
import { registrationsDone } from "../helpers/pulumi-mocks";

const recorded: RecordedResource[] = [];
pulumi.runtime.setMocks(recordingMocks((r) => recorded.push(r)), "spotjob", "dev", true);

async function bucket(deleteOnDestroy: boolean): Promise<Record<string, Record<string, any>>> {
  recorded.length = 0;
  const b = new JobBucket(`b-${deleteOnDestroy}`, { jobName: "sweep", prefix: "jobs/sweep", deleteOnDestroy });
  await settled(b.bucketName);
  await registrationsDone();
  return Object.fromEntries(recorded.map((r) => [r.type, r.inputs as Record<string, any>]));
}

/** What the notice prints, run as `pulumi destroy` would run its delete. */
const notice = (script: string) => spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, BUCKET: "spotjob-sweep-abc", PREFIX: "jobs/sweep" } }).stdout;

describe("the job bucket", () => {
  it("scopes every lifecycle rule with an explicit filter on the job's objects", async () => {
    const rules = (await bucket(false))["aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"].rules as { id: string; filter: unknown }[];
    expect(rules.map((r) => r.id)).toEqual(["expire-old-versions", "abort-stalled-uploads"]);
    for (const rule of rules) expect(rule.filter, rule.id).toEqual({ prefix: "jobs/sweep/" });
  });

  it("on destroy, says where the results are and how to delete a versioned bucket (not `rb --force`, which leaves versions)", async () => {
    const command = (await bucket(false))["command:local:Command"];
    const said = notice(command.delete);
    expect(said).toContain("results kept in s3://spotjob-sweep-abc/jobs/sweep");
    expect(said).toContain("pulumi config set spotjob:bucket spotjob-sweep-abc && pulumi up");
    expect(said).not.toContain("rb --force");
    expect(said).toMatch(/Empty deletes all versions\), then aws s3 rb s3:\/\/spotjob-sweep-abc/);
    expect(said).toContain("spotjob:deleteResultsOnDestroy true");
  });

  it("with deleteResultsOnDestroy, the bucket is force-destroyed (every version) and the notice says so", async () => {
    const resources = await bucket(true);
    expect(resources["aws:s3/bucket:Bucket"].forceDestroy).toBe(true);
    expect(notice(resources["command:local:Command"].delete)).toContain("deleting s3://spotjob-sweep-abc with every result in it");
  });
});
