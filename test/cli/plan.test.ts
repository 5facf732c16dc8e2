/** `spotjob plan` as users run it: the built CLI, real files, exit codes and JSON. */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { EXIT } from "../../cli/exit-codes";
import { RUNTIME_EXIT } from "../../runtime/job";
import { describe, expect, it } from "vitest";
import { bundles } from "../helpers/shared";

const root = join(__dirname, "../..");
const cli = bundles().cli;
const reference = join(root, "../shared/reference/jobs");

function plan(...args: string[]) {
  const run = spawnSync(process.execPath, [cli, "plan", ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1", SPOTJOB_CATALOG: "" } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr, json: args.includes("--json") ? JSON.parse(run.stdout) : undefined };
}

function spec(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "spotjob-plan-")), "job.yaml");
  writeFileSync(file, text);
  return file;
}

describe("spotjob plan on the users' reference specs", () => {
  it.each(["confinement_h100_gcp.yaml", "minimal_l4_gcp.yaml"])("--resources on the GCP spec %s lists the GCP stack's resources (exit 0), never an internal error", (name) => {
    const run = plan(join(reference, name), "--resources");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Resources `pulumi up` would create \(\d+\)/);
    expect(run.stdout).toMatch(/gcp:compute\/regionInstanceGroupManager:RegionInstanceGroupManager\s+\S+-spot/);
    expect(run.stderr).not.toMatch(/internal error|Please report this|\n\s+at /);
  }, 60_000);

  it("--help lists every flag and every exit status the commands use; a mistyped flag gets the nearest one", () => {
    const help = spawnSync(process.execPath, [cli, "--help"], { encoding: "utf8" }).stdout;
    expect(help).toMatch(/spotjob run <spec\.yaml> \[--store URL\] \[--exit-if-busy\]/);
    expect(help).toMatch(/^4 run: another instance holds the job \(--exit-if-busy\),$/m);
    expect(help).toMatch(/^75 run: interrupted/m);
    // Every status a command can exit with is listed, from the code's own tables.
    for (const code of new Set<number>([...Object.values(EXIT), RUNTIME_EXIT.busy, RUNTIME_EXIT.cancelled, RUNTIME_EXIT.interrupted])) expect(help).toMatch(new RegExp(`(?:^|[:,] )${code} \\S`, "m"));
    for (const flag of ["--fresh", "--rerun", "--no-wait", "--timeout", "-f", "--attempt", "--json", "--catalog", "--resources"]) expect(help).toContain(flag);
    const typo = spawnSync(process.execPath, [cli, "run", "job.yaml", "--exit-if-bussy"], { encoding: "utf8" });
    expect(typo.status).toBe(1);
    expect(typo.stderr).toMatch(/Unknown option '--exit-if-bussy'; did you mean `--exit-if-busy`\?/);
  });

  it("a workdir that is not a folder is a located error in plan and in run (exit 2), before anything runs", () => {
    const file = spec(["provider: local", "name: wd", "workdir: does-not-exist", "run: echo ran > ran.txt", ""].join("\n"));
    const planned = plan(file);
    expect(planned.code).toBe(2);
    expect(planned.stderr).toMatch(/job\.yaml:3:10: error: workdir: `does-not-exist` is not a folder: .*does-not-exist does not exist/);
    expect(planned.stderr).toMatch(/fix: create it, or set `workdir` to the folder the job's commands run in/);
    const run = spawnSync(process.execPath, [cli, "run", file], { encoding: "utf8", cwd: dirname(file), env: { ...process.env, NO_COLOR: "1" } });
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/workdir: `does-not-exist` is not a folder/);
    expect(run.stderr).not.toMatch(/ENOENT/);
  });

  it("a broken --catalog is reported with the catalog's own lines, not the spec's", () => {
    const catalog = join(mkdtempSync(join(tmpdir(), "spotjob-catalog-")), "catalog.yaml");
    writeFileSync(catalog, "offers:\n  - bogus: 1\n");
    const run = plan(join(root, "jobs/confinement_h100_aws.yaml"), "--catalog", catalog);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`${catalog}:2:5: error: offers[0].bogus: unknown field \`bogus\`\n  2 |   - bogus: 1\n`);
    expect(run.stderr).not.toMatch(/\| version: 1/);
  });

  it("run of a spec for a provider that cannot launch says so, not `use pulumi up`", () => {
    const file = spec(["provider: runpod", "gpu_type: A100", "name: rp", "run: echo ran", "cost: {max_cost_per_hour: 5, max_total_budget: 5}", ""].join("\n"));
    const run = spawnSync(process.execPath, [cli, "run", file], { encoding: "utf8", cwd: dirname(file), env: { ...process.env, NO_COLOR: "1" } });
    expect(run.stderr).toContain("`spotjob run` runs it here, on this machine (spotjob cannot launch on runpod in this release)");
    expect(run.stderr).not.toMatch(/pulumi up/);
  }, 60_000);

  it("--version says the package's version, not `dev`", () => {
    const run = spawnSync(process.execPath, [cli, "--version"], { encoding: "utf8" });
    const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    expect(run.stdout).toBe(`spotjob ${version}\n`);
  });

  it("AWS H100: the single-H100 instance on spot, on-demand fallback, guards pass", () => {
    const { code, json, stdout } = plan(join(reference, "confinement_h100_aws.yaml"), "--json");
    expect(code).toBe(0);
    expect(json).toMatchObject({ ok: true, market: "spot", chosen: { instanceType: "p5.4xlarge", gpu: "H100", gpuCount: 1 }, fallback: { instanceType: "p5.4xlarge" } });
    expect(json.chosen.region).toBe(json.fallback.region);
    expect(json.guards.every((g: { ok: boolean }) => g.ok)).toBe(true);
    expect(Object.keys(json)).toEqual(expect.arrayContaining(["ok", "spec", "chosen", "fallback", "offers", "guards", "budget", "runtime_cap_minutes", "runtime_cap_source", "warnings", "market", "capacity_types", "catalog"]));
    // A path is a string everywhere, as in the diagnostics (it was an array in guards).
    expect(json.guards.map((g: { path: unknown }) => g.path)).toEqual(expect.arrayContaining(["cost.max_cost_per_hour", "cost.max_total_budget"]));
    expect(stdout).toBe(plan(join(reference, "confinement_h100_aws.yaml"), "--json").stdout); // deterministic
  });

  it("GCP H100: a3-highgpu-1g on spot with its fallback, and the spot-only caveat as a warning", () => {
    const { code, json } = plan(join(reference, "confinement_h100_gcp.yaml"), "--json");
    expect(code).toBe(0);
    expect(json).toMatchObject({ ok: true, chosen: { instanceType: "a3-highgpu-1g", region: "us-central1" }, fallback: { instanceType: "a3-highgpu-1g" } });
    expect(json.warnings.map((w: { path: string }) => w.path)).toContain("cost.spot_fallback");
  });

  it("GCP L4: g2-standard-4 spot in us-central1, no fallback", () => {
    const { code, json } = plan(join(reference, "minimal_l4_gcp.yaml"), "--json");
    expect(code).toBe(0);
    expect(json).toMatchObject({ ok: true, market: "spot", chosen: { instanceType: "g2-standard-4", region: "us-central1" }, fallback: null });
  });

  it("runpod: exit 2, pointing only at providers a job can launch on", () => {
    const text = plan(join(reference, "rehearsal_a100_runpod.yaml"));
    expect(text.code).toBe(2);
    expect(text.stderr).toContain("spotjob cannot launch on runpod yet; jobs launch on aws, gcp and local in this release");
    expect(text.stderr).toContain("fix: change `provider:` to aws or gcp to launch it with `pulumi up`, or to local to run it on this machine");
    const { code, json } = plan(join(reference, "rehearsal_a100_runpod.yaml"), "--json");
    expect(code).toBe(2);
    expect(json).toMatchObject({ ok: false, error: { code: "unsupported_provider", path: "provider", line: 2, column: 11 } });
    expect(json.error.file).toContain("rehearsal_a100_runpod.yaml");
  });
});

describe("spotjob plan exit codes", () => {
  it("3 for a violated guard, naming the guard, the limit and the actual figure", () => {
    const file = spec("provider: aws\ngpu_type: H100\nrun: x\ncost:\n  max_cost_per_hour: 5\n  spot_fallback: true\n");
    const { code, json } = plan(file, "--json");
    expect(code).toBe(3);
    expect(json.ok).toBe(false);
    expect(json.error).toMatchObject({ path: "cost.max_cost_per_hour", line: 5 });
    expect(json.error.message).toMatch(/\$6\.90.*\$5\.00/);
    const text = plan(file);
    expect(text.code).toBe(3);
    expect(text.stderr).toContain("max_cost_per_hour");
  });

  it("3 when max_runtime_minutes at the price exceeds the budget", () => {
    const { code, json } = plan(spec("provider: gcp\ngpu_type: L4\nrun: x\nmax_runtime_minutes: 6000\ncost:\n  max_total_budget: 5\n"), "--json");
    expect(code).toBe(3);
    expect(json.error.path).toBe("max_runtime_minutes");
  });

  it("2 for an impossible GPU, naming the nearest offers", () => {
    const { code, json } = plan(spec("provider: aws\ngpu_type: A100\ngpu_count: 1\nrun: x\n"), "--json");
    expect(code).toBe(2);
    expect(json.error).toMatchObject({ path: "gpu_count", line: 3 });
    expect(json.error.message).toContain("p4d.24xlarge");
  });

  it("2 for an invalid spec, with file, line, column and path", () => {
    const { code, json } = plan(spec("provider: aws\ngpu_type: L4\ngpu_cout: 1\nrun: x\n"), "--json");
    expect(code).toBe(2);
    expect(json).toMatchObject({ ok: false, error: { code: "unknown_key", path: "gpu_cout", line: 3, column: 1 } });
  });

  it("1 for a missing file", () => {
    const { code, json } = plan("/nonexistent/job.yaml", "--json");
    expect(code).toBe(1);
    expect(json.error.code).toBe("not_found");
  });

  it("1 with a message for usage errors, never a stack trace", () => {
    const run = spawnSync(process.execPath, [cli, "plna", "x.yaml"], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("did you mean `plan`?");
    const flag = spawnSync(process.execPath, [cli, "plan", "x.yaml", "--jsn"], { encoding: "utf8" });
    expect(flag.status).toBe(1);
    expect(flag.stderr).toMatch(/Unknown option '--jsn'/);
    expect(flag.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("spotjob plan --resources", () => {
  it("lists what `pulumi up` would create for an AWS spec, from the real program under mocks, without credentials", () => {
    const { code, json } = plan(join(root, "jobs/confinement_h100_aws.yaml"), "--json", "--resources");
    expect(code).toBe(0);
    const types = (json.resources as { type: string; name: string }[]).map((r) => r.type);
    expect(types).toContain("spotjob:aws:Job");
    expect(types.filter((t) => t === "aws:autoscaling/group:Group")).toHaveLength(2);
    expect(types).toContain("aws:lambda/function:Function");
    expect(types).toContain("aws:ec2/launchTemplate:LaunchTemplate");
    const text = plan(join(root, "jobs/confinement_h100_aws.yaml"), "--resources");
    expect(text.stdout).toMatch(/Resources `pulumi up` would create \(\d+\)/);
    expect(text.stdout).toMatch(/aws:autoscaling\/group:Group\s+confinement-h100-aws-spot/);
  }, 60_000);

  it("lists what `pulumi up` would create for both GCP specs, from the real program under mocks, without credentials", () => {
    for (const [file, groups] of [
      ["jobs/confinement_h100_gcp.yaml", 2],
      ["jobs/minimal_l4_gcp.yaml", 1],
    ] as const) {
      const { code, json } = plan(join(root, file), "--json", "--resources");
      expect(code, file).toBe(0);
      const types = (json.resources as { type: string; name: string }[]).map((r) => r.type);
      expect(types).toContain("spotjob:gcp:Job");
      expect(types).toContain("gcp:storage/bucket:Bucket");
      expect(types.filter((t) => t === "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"), file).toHaveLength(groups);
      expect(types.filter((t) => t === "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"), file).toHaveLength(groups);
      expect(types).toContain("gcp:cloudrunv2/job:Job");
      expect(types).toContain("gcp:cloudscheduler/job:Job");
      expect(types).toContain("gcp:projects/iAMCustomRole:IAMCustomRole");
      expect(types.filter((t) => t === "gcp:serviceaccount/account:Account")).toHaveLength(2);
      expect(types.some((t) => t.startsWith("aws:"))).toBe(false);
    }
  }, 120_000);

  it("an over-size workdir, found only by running the program, is a located error with the largest files and a fix (exit 2)", () => {
    const file = spec("provider: aws\nname: big-workdir\ngpu_type: T4\nrun: python3 train.py\nworkdir: .\n");
    mkdirSync(join(dirname(file), "data"));
    writeFileSync(join(dirname(file), "data", "huge.bin"), "");
    truncateSync(join(dirname(file), "data", "huge.bin"), 300 * 1024 * 1024); // sparse: no disk used
    const text = plan(file, "--resources");
    expect(text.code).toBe(2);
    expect(text.stderr).toMatch(/error: workdir: 300 MB to upload after \.gitignore \(limit 200 MB\); largest: data\/huge\.bin 300 MB/);
    expect(text.stderr).toMatch(/fix: add them to \.gitignore or \.spotjobignore/);
    expect(text.stderr).not.toMatch(/error serializing property|\n\s+at /);
    const json = plan(file, "--resources", "--json");
    expect(json.code).toBe(2);
    expect(json.json).toMatchObject({ ok: false, error: { message: expect.stringMatching(/workdir: 300 MB/) } });
  }, 60_000);

  it("for provider: local, the one command that starts the runtime; nothing for a spec that fails its guards", () => {
    const local = plan(join(root, "jobs/demo_local.yaml"), "--json", "--resources");
    expect(local.json.resources.map((r: { type: string }) => r.type)).toEqual(["spotjob:local:Job", "command:local:Command"]);
    const dear = plan(spec("provider: aws\ngpu_type: H100\ngpu_count: 8\nrun: x\ncost: {max_cost_per_hour: 1}\n"), "--json", "--resources");
    expect(dear.code).not.toBe(0);
    expect(dear.json.resources).toBeUndefined();
  }, 60_000);
});

describe("spotjob plan: `ssm:` secrets and the job's region", () => {
  const secrets = "secrets:\n  HF_TOKEN: ssm:/team/hf-token\n  WANDB_API_KEY: ssm:us-east-1:/team/wandb\n  DB: arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf\n";
  it("warns, naming the secret and both fixes, when an unqualified `ssm:` reference meets a job with no fixed region", () => {
    const { code, json } = plan(spec(`provider: aws\ngpu_type: L4\nrun: x\n${secrets}`), "--json");
    expect(code).toBe(0);
    const warned = json.warnings.filter((w: { code: string }) => w.code === "secret_region_unfixed");
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ path: "secrets.HF_TOKEN", line: 5, column: 13 });
    expect(warned[0].message).toContain("`ssm:/team/hf-token` is read in the job's region");
    expect(warned[0].message).toContain(`(now ${json.chosen.region})`);
    expect(warned[0].hint).toContain("HF_TOKEN: ssm:<region>:/team/hf-token");
    expect(warned[0].hint).toContain("region: <the parameter's region>");
    // Several regions to choose from are no fixed region either.
    const several = plan(spec(`provider: aws\ngpu_type: L4\nrun: x\nregions: [us-east-1, us-west-2]\n${secrets}`), "--json");
    expect(several.json.warnings.filter((w: { code: string }) => w.code === "secret_region_unfixed").map((w: { message: string }) => w.message)).toEqual([expect.stringContaining("`regions: [us-east-1, us-west-2]` lets the job run in any of them")]);
  });

  it("is quiet when the region is fixed (`region:` or a single `regions` entry), or every reference names its region", () => {
    for (const where of ["region: us-east-1\n", "regions: [us-west-2]\n"]) {
      const { code, json } = plan(spec(`provider: aws\ngpu_type: L4\nrun: x\n${where}${secrets}`), "--json");
      expect(code).toBe(0);
      expect(json.warnings.filter((w: { code: string }) => w.code === "secret_region_unfixed")).toEqual([]);
    }
    const qualified = plan(spec("provider: aws\ngpu_type: L4\nrun: x\nsecrets:\n  HF_TOKEN: ssm:eu-west-1:/team/hf-token\n  B: arn:aws:ssm:eu-west-1:123456789012:parameter/team/b\n"), "--json");
    expect(qualified.code).toBe(0);
    expect(qualified.json.warnings.filter((w: { code: string }) => w.code === "secret_region_unfixed")).toEqual([]);
  });
});
