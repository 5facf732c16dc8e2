/**
 * The AWS stack's explicit provider takes the stack's `aws:*` settings (an
 * explicit provider reads none by itself), with the job's region; and the
 * stack exports exactly the AWS outputs, none undefined.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { awsProviderArgs } from "../../infra/aws/provider-args";
import { recordingMocks, settled, type RecordedResource } from "../../infra/preview/recording-mocks";

let recorded: RecordedResource[] = [];
beforeEach(() => {
  recorded = [];
});
pulumi.runtime.setMocks(recordingMocks((r) => recorded.push(r)), "spotjob", "dev", true);

async function runProgram(config: Record<string, string>): Promise<{ stack: Record<string, unknown>; warnings: string[] }> {
  vi.resetModules();
  pulumi.runtime.setAllConfig(config);
  const warnings: string[] = [];
  const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(async (message: string) => void warnings.push(message));
  try {
    const stack = (await import("../../infra/index.js")) as Record<string, unknown>;
    await settled(stack.store as pulumi.Output<string>);
    await settled(stack.supervisor as pulumi.Output<string>);
    return { stack, warnings };
  } finally {
    warn.mockRestore();
  }
}

const providerInputs = () => {
  const providers = recorded.filter((r) => r.type === "pulumi:providers:aws");
  expect(providers).toHaveLength(1);
  // The engine hands a provider its non-string settings as JSON.
  return Object.fromEntries(Object.entries(providers[0].inputs).map(([k, v]) => [k, typeof v === "string" && /^[[{]/.test(v) ? JSON.parse(v) : v]));
};

describe("the AWS provider takes the stack's aws:* settings", () => {
  it("passes aws:profile, aws:endpoints and aws:skipCredentialsValidation on, with the job's region", async () => {
    await runProgram({
      "spotjob:job": "jobs/confinement_h100_aws.yaml",
      "aws:profile": "research",
      "aws:endpoints": JSON.stringify([{ s3: "http://127.0.0.1:5000", ec2: "http://127.0.0.1:5001" }]),
      "aws:skipCredentialsValidation": "true",
      "aws:assumeRoles": JSON.stringify([{ roleArn: "arn:aws:iam::123456789012:role/deployer", sessionName: "spotjob" }]),
    });
    const inputs = providerInputs();
    expect(inputs.profile).toBe("research");
    expect(inputs.endpoints).toEqual([{ s3: "http://127.0.0.1:5000", ec2: "http://127.0.0.1:5001" }]);
    expect(String(inputs.skipCredentialsValidation)).toBe("true");
    expect(inputs.assumeRoles).toEqual([{ roleArn: "arn:aws:iam::123456789012:role/deployer", sessionName: "spotjob" }]);
    expect(inputs.region).toBe("us-east-1");
  });

  it("warns about a setting the provider does not know, and a stack region the job does not run in", async () => {
    const { warnings } = await runProgram({ "spotjob:job": "jobs/confinement_h100_aws.yaml", "aws:assumeRole": "{}", "aws:profle": "x", "aws:region": "eu-west-1" });
    expect(warnings.join("\n")).toMatch(/`aws:assumeRole` is not a setting of the aws provider and is ignored: did you mean `aws:assumeRoles`\?/);
    expect(warnings.join("\n")).toMatch(/`aws:profle` .* did you mean `aws:profile`\?/);
    expect(warnings.join("\n")).toMatch(/runs in us-east-1, where its offer is, not in the stack's aws:region eu-west-1; .*`region: eu-west-1`/);
  });

  it("exports exactly the AWS stack's outputs, none of them undefined", async () => {
    const { stack } = await runProgram({ "spotjob:job": "jobs/confinement_h100_aws.yaml" });
    const keys = Object.keys(stack).filter((k) => k !== "default");
    expect(keys.sort()).toEqual(["bucket", "chosen", "groups", "job", "prefix", "pricePerHour", "provider", "runtimeCapMinutes", "store", "supervisor", "uploads", "watch"]);
    for (const key of keys) expect(stack[key], key).not.toBeUndefined();
  });
});

describe("awsProviderArgs", () => {
  const known = ["profile", "region", "endpoints", "assumeRoles"];
  it.each([
    [{ values: {}, known, setKeys: [] }, "us-west-2", { region: "us-west-2" }, []],
    [{ values: { profile: "p", region: "us-west-2" }, known, setKeys: ["aws:profile", "aws:region"] }, "us-west-2", { profile: "p", region: "us-west-2" }, []],
    [{ values: { region: "eu-west-1" }, known, setKeys: ["aws:region"] }, "us-east-1", { region: "us-east-1" }, [/aws:region eu-west-1/]],
    [{ values: {}, known, setKeys: ["aws:totallyUnknown"] }, "us-east-1", { region: "us-east-1" }, [/`aws:totallyUnknown` is not a setting of the aws provider and is ignored$/]],
  ])("%j in %s", (stack, region, args, warnings) => {
    const plan = awsProviderArgs(stack, region);
    expect(plan.args).toEqual(args);
    expect(plan.warnings).toHaveLength(warnings.length);
    warnings.forEach((w, i) => expect(plan.warnings[i]).toMatch(w));
  });
});
