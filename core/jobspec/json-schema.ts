import { z } from "zod";
import { JobSpecSchema } from "./schema";

export const SCHEMA_ID = "https://spotjob.dev/schemas/job-spec.schema.json";

/**
 * The JSON Schema editors use to autocomplete and validate specs (draft-07:
 * what the YAML language server supports best). Describes the input side:
 * fields with defaults are optional.
 */
export function jobSpecJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(JobSpecSchema, { io: "input", target: "draft-07", unrepresentable: "any" }) as Record<string, unknown>;
  return { $schema: schema.$schema, $id: SCHEMA_ID, ...schema };
}
