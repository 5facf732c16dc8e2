/** What the status says the job runs on: the instance metadata through IMDSv2 (amazon-ec2-metadata-mock), or this machine. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { awsInstance } from "../../runtime/cloud/aws/instance";
import { thisMachine } from "../../runtime/cloud/host";
import { requireBinary, startEc2MetadataMock } from "../helpers/emulators";

describe("the instance a job runs on", () => {
  it.runIf(requireBinary("ec2-metadata-mock"))("reads type, market, id and region from the metadata service (IMDSv2 required)", async () => {
    const config = join(mkdtempSync(join(tmpdir(), "spotjob-imds-")), "aemm.json");
    writeFileSync(config, JSON.stringify({ metadata: { values: { "instance-type": "g5.xlarge", "instance-life-cycle": "spot", "instance-id": "i-0abc", "placement-region": "eu-west-1" } } }));
    const mock = await startEc2MetadataMock(3600, ["--config-file", config]);
    try {
      expect(await awsInstance(mock.endpoint)).toEqual({ type: "g5.xlarge", market: "spot", id: "i-0abc", region: "eu-west-1" });
    } finally {
      await mock.stop();
    }
  });

  it("a metadata service that does not answer leaves the market unknown instead of guessing, and does not throw", async () => {
    expect(await awsInstance("http://127.0.0.1:9")).toEqual({ type: "unknown", market: "unknown" });
  });

  it("anywhere else it is this machine", () => {
    expect(thisMachine()).toEqual({ type: hostname(), market: "local" });
  });
});
