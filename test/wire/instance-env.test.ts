import { describe, expect, it } from "vitest";
import { formatInstanceEnv, GROUPS_ENV, parseInstanceEnv } from "../../core/wire/instance-env";

describe("the instance environment", () => {
  it("reads back what a startup script exports, per cloud", () => {
    for (const cloud of ["aws", "gcp"] as const) {
      const groups = cloud === "aws" ? ["spotjob-a-spot", "spotjob-a-ondemand"] : ["projects/p/regions/us-central1/instanceGroupManagers/a-spot"];
      const env = Object.fromEntries(formatInstanceEnv({ cloud, groups, graceSeconds: 15 }));
      expect(env[GROUPS_ENV[cloud]]).toBe(groups.join(","));
      expect(parseInstanceEnv(env)).toEqual({ cloud, groups, graceSeconds: 15 });
    }
  });

  it.each([
    [{}, { groups: [] }],
    [{ SPOTJOB_CLOUD: "" }, { groups: [] }],
    [{ SPOTJOB_CLOUD: "azure", SPOTJOB_AWS_GROUPS: "a" }, { unknownCloud: "azure", groups: [] }],
    // Another cloud's groups are not this cloud's.
    [{ SPOTJOB_CLOUD: "gcp", SPOTJOB_AWS_GROUPS: "a" }, { cloud: "gcp", groups: [] }],
    [{ SPOTJOB_CLOUD: "aws", SPOTJOB_AWS_GROUPS: " a , ,b " }, { cloud: "aws", groups: ["a", "b"] }],
    [{ SPOTJOB_GRACE_SECONDS: "-1" }, { groups: [] }],
    [{ SPOTJOB_GRACE_SECONDS: "x" }, { groups: [] }],
    [{ SPOTJOB_GRACE_SECONDS: "0" }, { groups: [], graceSeconds: 0 }],
  ])("%j", (env, expected) => {
    expect(parseInstanceEnv(env)).toEqual(expected);
  });

  it.each([[""], ["a,b"], [" a"]])("refuses the group name %j", (group) => {
    expect(() => formatInstanceEnv({ cloud: "aws", groups: [group] })).toThrow(/no comma/);
  });
});
