/** The users' existing specs must load unchanged, with the original defaults. */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSpecFile, parseSpec, unsupportedProvider } from "../../core/jobspec";

export const REFERENCE_JOBS = join(__dirname, "../../../shared/reference/jobs");

describe("reference JobConfig specs", () => {
  it.each(["confinement_h100_aws", "confinement_h100_gcp", "minimal_l4_gcp", "rehearsal_a100_runpod"])("%s loads", (name) => {
    const result = loadSpecFile(join(REFERENCE_JOBS, `${name}.yaml`));
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it("applies JobConfig's defaults", () => {
    const result = loadSpecFile(join(REFERENCE_JOBS, "minimal_l4_gcp.yaml"));
    if (!result.ok) throw new Error("expected ok");
    const { spec, warnings } = result.loaded;
    expect(spec).toMatchObject({
      version: 1,
      provider: "gcp",
      gpu_type: "L4",
      gpu_count: 1,
      use_spot: true,
      region: "us-central1",
      disk_size: 50,
      cost: { max_cost_per_hour: 1, max_total_budget: 5, autostop_minutes: 15, auto_teardown: true, spot_fallback: false },
      stream_preset: "standard",
      setup: "",
      workdir: "",
      ports: [8000],
      envs: { WANDB_MODE: "offline" },
      name: "minimal-l4-gcp",
    });
    // Defaults are not the user's doing: no warning about ports or stream_preset.
    expect(warnings).toEqual([]);
  });

  it("flags runpod as valid but not launchable, naming where jobs launch", () => {
    const result = loadSpecFile(join(REFERENCE_JOBS, "rehearsal_a100_runpod.yaml"));
    if (!result.ok) throw new Error("expected ok");
    const d = unsupportedProvider(result.loaded);
    expect(d).toMatchObject({ code: "unsupported_provider", path: "provider", line: 2, column: 11 });
    expect(d!.message).toBe("spotjob cannot launch on runpod yet; jobs launch on aws, gcp and local in this release");
  });

  it("warns about fields it accepts but does not act on", () => {
    const result = parseSpec("provider: local\nrun: x\nstream_preset: hd\nports: [8000]\nenvs:\n  SWEEP_SNAPSHOT_DIR: /tmp/x\n", "w.yaml");
    if (!result.ok) throw new Error("expected ok");
    expect(result.loaded.warnings.map((w) => [w.path, w.line])).toEqual([
      ["stream_preset", 3],
      ["ports", 4],
      ["envs.SWEEP_SNAPSHOT_DIR", 6],
    ]);
  });

  it("keeps env values as written", () => {
    const result = parseSpec("provider: local\nrun: x\nenvs:\n  SEED: 42\n  VERSION: 1.10\n  DEBUG: true\n  HEX: 0x1F\n", "e.yaml");
    if (!result.ok) throw new Error("expected ok");
    expect(result.loaded.spec.envs).toEqual({ SEED: "42", VERSION: "1.10", DEBUG: "true", HEX: "0x1F" });
  });

  it("treats an empty value as the default", () => {
    const result = parseSpec("provider: local\nsetup:\nrun: echo hi\ncost:\n", "n.yaml");
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.loaded.spec.setup).toBe("");
    expect(result.loaded.spec.cost.max_total_budget).toBe(5);
  });
});
