import { jobSpecJsonSchema } from "../../core/jobspec/json-schema";

/** `spotjob schema`: the job spec's JSON Schema (what jobs/job-spec.schema.json holds). */
export function schemaCommand(): number {
  process.stdout.write(`${JSON.stringify(jobSpecJsonSchema(), null, 2)}\n`);
  return 0;
}
