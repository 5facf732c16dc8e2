import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jobSpecJsonSchema } from "../../core/jobspec";

const jobs = join(__dirname, "../../jobs");

describe("published JSON Schema", () => {
  it("jobs/job-spec.schema.json is up to date (regenerate with `npm run schema`)", () => {
    const committed = JSON.parse(readFileSync(join(jobs, "job-spec.schema.json"), "utf8"));
    expect(committed).toEqual(jobSpecJsonSchema());
  });

  it("every example spec points the YAML language server at it", () => {
    const specs = readdirSync(jobs).filter((f) => f.endsWith(".yaml"));
    expect(specs.length).toBeGreaterThanOrEqual(5);
    for (const spec of specs) {
      expect(readFileSync(join(jobs, spec), "utf8").split("\n")[0], spec).toBe("# yaml-language-server: $schema=job-spec.schema.json");
    }
  });

  it("documents every field and forbids unknown keys", () => {
    const schema = jobSpecJsonSchema() as { properties: Record<string, { description?: string }>; additionalProperties: boolean };
    expect(schema.additionalProperties).toBe(false);
    for (const [name, prop] of Object.entries(schema.properties)) expect(prop.description, name).toBeTruthy();
  });
});
