/**
 * The Pulumi program for `provider: local`, under Pulumi's mocks: config is
 * set before the program is imported, every resource it registers is
 * recorded, and a spec that cannot be launched fails the preview.
 */
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocalJob } from "../../infra/local/local-job";
import { settled, setSpotjobConfig } from "../../infra/preview/recording-mocks";

const root = resolve(__dirname, "../..");

interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

let recorded: Recorded[] = [];
beforeEach(() => {
  recorded = [];
});

// One mock monitor for the file: a component registered by one test finishes
// registering its outputs against the same monitor.
pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: { ...args.inputs, stdout: "runtime started" } };
      },
      call: (args) => args.inputs,
    },
    "spotjob",
    "dev",
    true,
);

/** Imports the program afresh with `spotjob:*` config set, as `pulumi preview` would run it. */
async function runProgram(config: Record<string, string>): Promise<Record<string, unknown>> {
  vi.resetModules();
  setSpotjobConfig(config);
  return (await import("../../infra/index.js")) as Record<string, unknown>;
}

function specFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "spotjob-stack-")), "job.yaml");
  writeFileSync(file, text);
  return file;
}

describe("the Pulumi program, provider: local", () => {
  it("starts the runtime through one local command, configured only by environment", async () => {
    const stack = await runProgram({ job: "jobs/demo_local.yaml" });
    expect(stack.job).toBe("demo-local");
    expect(stack.provider).toBe("local");
    expect(stack.chosen).toBe("this machine");
    expect(await settled(stack.store as pulumi.Output<string>)).toBe(join(root, ".spotjob", "demo-local"));

    // Registration is asynchronous under mocks: wait for the component's outputs.
    expect(await settled(stack.started as pulumi.Output<string>)).toBe("runtime started");
    const types = recorded.map((r) => `${r.type} ${r.name}`);
    expect(types).toEqual(["spotjob:local:Job demo-local", "command:local:Command demo-local-runtime"]);
    const command = recorded[1].inputs as { create: string; delete: string; environment: Record<string, string>; triggers: unknown[] };
    expect(command.environment).toEqual({
      SPOTJOB_NODE: process.execPath,
      SPOTJOB_RUNTIME: join(root, "dist", "runtime.cjs"),
      SPOTJOB_SPEC: join(root, "jobs", "demo_local.yaml"),
      SPOTJOB_STORE: join(root, ".spotjob", "demo-local"),
      SPOTJOB_STATE: join(root, ".spotjob", "demo-local", "machine"),
    });
    // No spec value is pasted into the scripts; they read the environment.
    expect(command.create).not.toContain("demo");
    expect(command.delete).not.toContain("demo");
    expect(command.triggers).toHaveLength(2);
  });

  it("uses the store given in config", async () => {
    const stack = await runProgram({ job: "jobs/demo_local.yaml", store: "gs://bucket/demo" });
    expect(await settled(stack.store as pulumi.Output<string>)).toBe("gs://bucket/demo");
  });

  it("a changed spec changes the command's triggers, so `pulumi up` restarts the runtime", async () => {
    const spec = "version: 1\nprovider: local\nname: trig\nrun: echo one\ncost: {max_cost_per_hour: 0, max_total_budget: 0}\n";
    const first = specFile(spec);
    const second = specFile(spec.replace("echo one", "echo two"));
    await settled((await runProgram({ job: first })).started as pulumi.Output<string>);
    const before = recorded.find((r) => r.type === "command:local:Command")!.inputs.triggers;
    recorded = [];
    await settled((await runProgram({ job: second })).started as pulumi.Output<string>);
    const after = recorded.find((r) => r.type === "command:local:Command")!.inputs.triggers;
    expect(after).not.toEqual(before);
  });

  it("replaces the runtime command delete-first, so a changed spec stops the old runtime before starting the new one", async () => {
    const options: Record<string, pulumi.CustomResourceOptions> = {};
    const job = new LocalJob(
      "order",
      { jobName: "order", specFile: "/x/job.yaml", specHash: "h", storeUrl: "/x/store", stateDir: "/x/state", runtimeBundle: "/x/runtime.cjs" },
      { transformations: [(args) => void (options[args.type] = args.opts)] },
    );
    await settled(job.started);
    expect(options["command:local:Command"]?.deleteBeforeReplace).toBe(true);
  });

  it("exports exactly the local stack's outputs, none of them undefined", async () => {
    const stack = await runProgram({ job: "jobs/demo_local.yaml" });
    const keys = Object.keys(stack).filter((k) => k !== "default");
    expect(keys.sort()).toEqual(["chosen", "job", "log", "pricePerHour", "provider", "runtimeCapMinutes", "started", "store"]);
    for (const key of keys) expect(stack[key], key).not.toBeUndefined();
  });

  it("every child of the component has it as parent and a name derived from its own", async () => {
    const children: { name: string; parent: pulumi.Resource | undefined }[] = [];
    const job = new LocalJob(
      "sweep-a",
      { jobName: "sweep-a", specFile: "/x/job.yaml", specHash: "h", storeUrl: "/x/store", stateDir: "/x/state", runtimeBundle: "/x/runtime.cjs" },
      {
        transformations: [
          (args) => {
            if (args.resource !== undefined && args.type !== "spotjob:local:Job") children.push({ name: args.name, parent: args.opts.parent });
            return undefined;
          },
        ],
      },
    );
    await settled(job.started);
    expect(children.length).toBeGreaterThan(0);
    for (const child of children) {
      expect(child.parent).toBe(job);
      expect(child.name.startsWith("sweep-a-")).toBe(true);
    }
  });
});

describe("the Pulumi program refuses what it cannot launch, before any resource", () => {
  it.each([
    ["an invalid spec names the file, line and field", "version: 1\nprovider: local\nrun: echo hi\ngpu_cout: 2\n", /job\.yaml:4:1: error: gpu_cout: unknown key.*did you mean `gpu_count`/s],
    [
      "a violated cost guard names the guard, the limit and the price",
      "version: 1\nprovider: aws\ngpu_type: H100\nrun: train\ncost: {max_cost_per_hour: 1.00}\n",
      /max_cost_per_hour: .*\$6\.90\/h exceeds the limit \$1\.00\/h/s,
    ],
    ["a provider spotjob cannot launch yet names the supported ones", "version: 1\nprovider: runpod\ngpu_type: H100\nrun: train\n", /aws.*gcp.*local/s],
    ["so does one that is not in this release at all", "version: 1\nprovider: lambda_labs\ngpu_type: H100\nrun: train\n", /cannot launch on lambda_labs yet.*aws, gcp and local/s],
  ])("%s", async (_, text, message) => {
    await expect(runProgram({ job: specFile(text) })).rejects.toThrow(message);
    expect(recorded).toEqual([]);
  });
});
