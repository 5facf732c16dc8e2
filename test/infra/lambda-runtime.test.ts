/**
 * The supervisor's Lambda runtime against AWS's dated deprecation schedule
 * (infra/aws/lambda-runtimes.json): fails when the runtime the program uses
 * is deprecated, or will be blocked for create or update within 180 days, and
 * when the provider offers a newer Node.js runtime than the one used.
 */
import * as aws from "@pulumi/aws";
import { describe, expect, it } from "vitest";
import { LAMBDA_RUNTIME_SCHEDULE, runtimeStanding, SUPERVISOR_RUNTIME } from "../../infra/aws/lambda-runtimes";

const today = () => new Date().toISOString().slice(0, 10);
const major = (r: string) => Number(/^nodejs(\d+)\.x$/.exec(r)?.[1]);

describe("the supervisor's Lambda runtime", () => {
  it("is on AWS's schedule and not deprecated today, nor blocked within 180 days", () => {
    const standing = runtimeStanding(SUPERVISOR_RUNTIME, today(), 180);
    expect(standing.message ?? "", `${SUPERVISOR_RUNTIME} as of ${today()} (+180 days)`).toBe("");
    expect(standing.state).toBe("supported");
    // And on the day this was written.
    expect(runtimeStanding(SUPERVISOR_RUNTIME, "2026-12-02").state).toBe("supported");
  });

  it("is the newest Node.js runtime the provider offers (non-deprecated members of aws.lambda.Runtime)", () => {
    const offered = Object.values(aws.lambda.Runtime).filter((r) => /^nodejs\d+\.x$/.test(r));
    expect(offered).toContain(SUPERVISOR_RUNTIME);
    expect(Math.max(...offered.map(major))).toBe(major(SUPERVISOR_RUNTIME));
  });

  it("reads the schedule as dated data: the old runtime fails it, the boundaries fall on AWS's dates", () => {
    expect(LAMBDA_RUNTIME_SCHEDULE.source).toMatch(/docs\.aws\.amazon\.com\/lambda\/latest\/dg\/lambda-runtimes\.html/);
    for (const [runtime, dates] of Object.entries(LAMBDA_RUNTIME_SCHEDULE.runtimes)) {
      expect(runtime).toMatch(/^nodejs\d+\.x$/);
      expect(dates.deprecation < dates.blockFunctionCreate && dates.blockFunctionCreate <= dates.blockFunctionUpdate, runtime).toBe(true);
    }
    // What the program used before: deprecated since 2026-04-30, creation blocked from 2027-02-01, updates from 2027-03-03.
    expect(runtimeStanding("nodejs20.x", "2026-12-02")).toMatchObject({ state: "deprecated" });
    expect(runtimeStanding("nodejs20.x", "2027-02-01").state).toBe("create-blocked");
    expect(runtimeStanding("nodejs20.x", "2027-03-03").state).toBe("update-blocked");
    expect(runtimeStanding("nodejs22.x", "2026-12-02", 180).state).toBe("deprecated");
    expect(runtimeStanding("nodejs99.x", "2026-12-02").state).toBe("unknown");
  });
});
