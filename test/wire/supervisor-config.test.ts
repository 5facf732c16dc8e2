import { describe, expect, it } from "vitest";
import { formatSupervisorConfig, supervisorConfigFromEnv, type SupervisorConfig } from "../../core/wire/supervisor-config";

const config: SupervisorConfig = {
  store: "gs://bucket/jobs/a",
  spot: { name: "projects/p/regions/us-central1/instanceGroupManagers/a-spot", pricePerHour: 0.3 },
  policy: { maxRuntimeMinutes: null, budgetUsd: 5, spotFallback: false, fallbackAfterMinutes: 10, autostopMinutes: 5 },
};

describe("the supervisor's configuration", () => {
  it("round-trips through the function's environment, on either cloud's store", () => {
    for (const store of ["gs://bucket/jobs/a", "s3://bucket/jobs/a"]) {
      const c = { ...config, store };
      expect(supervisorConfigFromEnv({ SPOTJOB_SUPERVISOR: formatSupervisorConfig(c) })).toEqual(c);
    }
  });

  it.each([
    [{}, /SPOTJOB_SUPERVISOR is not set/],
    [{ SPOTJOB_SUPERVISOR: "{" }, /is not JSON/],
    [{ SPOTJOB_SUPERVISOR: JSON.stringify({ ...config, store: "/tmp/dir" }) }, /store: must be an s3:\/\/ or gs:\/\/ URL/],
    [{ SPOTJOB_SUPERVISOR: JSON.stringify({ ...config, extra: 1 }) }, /not a valid supervisor configuration/],
  ])("refuses %j", (env, message) => {
    expect(() => supervisorConfigFromEnv(env)).toThrow(message);
  });
});
