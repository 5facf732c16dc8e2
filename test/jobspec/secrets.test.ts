/** `secrets:` by reference: parsing, validation (never echoing a value), and the references the infra grants. */
import { describe, expect, it } from "vitest";
import { formatDiagnostic, jobSpecJsonSchema, parseSecretReference, parseSpec, SECRET_REFERENCE_PATTERN, secretReferences } from "../../core/jobspec";
import { gcpSecretVersionName, referenceText, secretGrants, secretKmsKeys, unqualifiedParameters } from "../../core/jobspec/secrets";

const H = "provider: aws\ngpu_type: L4\nrun: python3 train.py\n";
const SM = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-AbCdEf";

function errorsOf(text: string) {
  const result = parseSpec(text, "s.yaml");
  if (result.ok) throw new Error("expected errors");
  return result.errors;
}

describe("secrets in a spec", () => {
  it("defaults to none", () => {
    const result = parseSpec(H, "s.yaml");
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.loaded.spec.secrets).toEqual({});
    expect(secretReferences(result.loaded.spec)).toEqual([]);
  });

  it("keeps the references as written, and secretReferences gives what the role must be allowed to read", () => {
    const result = parseSpec(
      `${H}secrets:\n  HF_TOKEN: ssm:/team/hf-token\n  WANDB_API_KEY: ssm:wandb-key\n  DB_PASSWORD: ${SM}\n  GOV: arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:db/pw\n`,
      "s.yaml",
    );
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.loaded.spec.secrets).toEqual({ HF_TOKEN: "ssm:/team/hf-token", WANDB_API_KEY: "ssm:wandb-key", DB_PASSWORD: SM, GOV: "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:db/pw" });
    expect(result.loaded.warnings).toEqual([]);
    expect(secretReferences(result.loaded.spec)).toEqual([
      { env: "HF_TOKEN", kind: "ssm", ref: "/team/hf-token" },
      { env: "WANDB_API_KEY", kind: "ssm", ref: "wandb-key" },
      { env: "DB_PASSWORD", kind: "secretsmanager", ref: SM, region: "us-east-1" },
      { env: "GOV", kind: "secretsmanager", ref: "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:db/pw", region: "us-gov-west-1" },
    ]);
  });

  it("secretReferences is pure and tolerates a spec without the field (an older resolved spec)", () => {
    expect(secretReferences({} as never)).toEqual([]);
    const spec = { secrets: { A: "ssm:/a", B: "not a reference" } };
    expect(secretReferences(spec)).toEqual([{ env: "A", kind: "ssm", ref: "/a" }]);
    expect(spec).toEqual({ secrets: { A: "ssm:/a", B: "not a reference" } });
  });

  it("a literal value is an error that never repeats the value, in the message, the hint or the formatted output", () => {
    const value = "sk-live-9f8e7d6c5b4a39281706";
    const text = `${H}secrets:\n  API_KEY: ${value}\n`;
    const [error] = errorsOf(text);
    expect(error).toMatchObject({ code: "secret_literal", path: "secrets.API_KEY", line: 5, column: 12 });
    expect(error.hint).toContain("API_KEY: ssm:/team/api-key");
    expect(`${error.message} ${error.hint}`).not.toContain(value);
    expect(`${error.message} ${error.hint}`).not.toContain("9f8e7d");
    // The caret line quotes the file itself (that is where the user put it): only that.
    expect(formatDiagnostic(error).includes(value)).toBe(false);
  });

  it.each([
    ["a number", "API_KEY: 12345678", "invalid_type", "a number (not shown)", "12345678"],
    ["a very long text", `API_KEY: ${"x".repeat(300_000)}`, "too_big", "text (not shown)", "xxxxxxxx"],
  ])("%s under secrets is not echoed either", (_what, line, code, says, hidden) => {
    const [error] = errorsOf(`${H}secrets:\n  ${line}\n`);
    expect(error.code).toBe(code);
    expect(error.message).toContain(says);
    expect(error.message).not.toContain(hidden);
  });

  it.each([
    ["ssm://team/x", "invalid_reference", "one slash", "ssm:/team/x"],
    ["ssm:team/x", "invalid_reference", "starts with `/`", "ssm:/team/x"],
    ["ssm:/team/x/", "invalid_reference", "no trailing", undefined],
    ["ssm:", "invalid_reference", "names no parameter", undefined],
    ["SSM:/team/x", "unknown_scheme", "lowercase", "ssm:/team/x"],
    ["arn:aws:ssm:us-east-1:1234:parameter/team/x", "invalid_reference", "arn:aws:ssm:<region>:<account>:parameter/<name>", "ssm:<region>:<name>"],
    ["arn:aws:ssm:us-east-1:123456789012:parameter//team/x", "invalid_reference", "arn:aws:ssm:<region>:<account>:parameter/<name>", undefined],
    ["ssm:arn:aws:ssm:us-east-1:123456789012:parameter/team/x", "invalid_reference", "without `ssm:`", "arn:aws:ssm:us-east-1:123456789012:parameter/team/x"],
    ["ssm:europe:/team/x", "invalid_reference", "`europe` is not an AWS region", "ssm:eu-west-1:/team/hf-token"],
    ["ssm:eu-west-1:team/x", "invalid_reference", "starts with `/`", "ssm:eu-west-1:/team/x"],
    ["ssm:eu-west-1:", "invalid_reference", "names no parameter", undefined],
    ["arn:aws:secretsmanager:us-east-1:1234:secret:x", "invalid_reference", "arn:aws:secretsmanager:<region>:<account>:secret:<name>", "describe-secret"],
    ["arn:aws:s3:::bucket/key", "unknown_scheme", "only SSM parameter ARNs", undefined],
    ["vault:secret/data/x", "unknown_scheme", "`vault:`", undefined],
    ["gcp-sm:projects/p/secrets/s", "unknown_scheme", "`gcp-sm:`", undefined],
    ["hunter2hunter2", "secret_literal", "looks like the secret's value", undefined],
  ])("%s → %s", (reference, code, message, hint) => {
    const parsed = parseSecretReference(reference);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.code).toBe(code);
    expect(parsed.message).toContain(message);
    if (hint) expect(parsed.hint).toContain(hint);
    const [error] = errorsOf(`${H}secrets:\n  TOKEN: "${reference}"\n`);
    expect({ code: error.code, path: error.path, line: error.line }).toEqual({ code, path: "secrets.TOKEN", line: 5 });
  });

  it("a secret on provider: local is an error whose fix is this machine's environment", () => {
    const [error] = errorsOf("provider: local\nrun: echo hi\nsecrets:\n  HF_TOKEN: ssm:/team/hf-token\n");
    expect(error).toMatchObject({ code: "secret_on_local", path: "secrets", line: 3, column: 1 });
    expect(error.hint).toMatch(/export `HF_TOKEN`/);
    // An empty section asks for nothing.
    expect(parseSpec("provider: local\nrun: echo hi\nsecrets: {}\n", "s.yaml").ok).toBe(true);
  });

  it("an AWS reference on gcp is an error: only an AWS instance can read it", () => {
    const [error] = errorsOf("provider: gcp\ngpu_type: L4\nrun: x\nsecrets:\n  HF_TOKEN: ssm:/team/hf-token\n");
    expect(error).toMatchObject({ code: "secret_wrong_provider", path: "secrets.HF_TOKEN", line: 5 });
  });

  it("names the runtime sets, and an empty entry, are errors", () => {
    expect(errorsOf(`${H}secrets:\n  SWEEP_ITEM: ssm:/x\n`)[0]).toMatchObject({ code: "reserved", path: "secrets.SWEEP_ITEM", line: 5, column: 3 });
    expect(errorsOf(`${H}secrets:\n  SPOTJOB_STORE: ssm:/x\n`)[0]).toMatchObject({ code: "reserved" });
    const [empty] = errorsOf(`${H}secrets:\n  HF_TOKEN:\n`);
    expect(empty).toMatchObject({ code: "invalid_type", path: "secrets.HF_TOKEN" });
    expect(empty.hint).toContain('secrets: {HF_TOKEN: "ssm:/team/hf-token"}');
  });

  it("the published JSON Schema checks names and references the same way", () => {
    const prop = (jobSpecJsonSchema() as { properties: Record<string, { propertyNames: { pattern: string }; additionalProperties: { pattern: string }; description: string }> }).properties.secrets;
    expect(prop.description).toMatch(/^spotjob: /);
    expect(prop.additionalProperties.pattern).toBe(SECRET_REFERENCE_PATTERN);
    const pattern = new RegExp(SECRET_REFERENCE_PATTERN);
    for (const ok of ["ssm:/team/hf-token", "ssm:plain", "ssm:eu-west-1:/team/x", "ssm:ap-southeast-2:plain", "arn:aws:ssm:eu-west-1:123456789012:parameter/team/x", SM, "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x"]) {
      expect(pattern.test(ok), ok).toBe(true);
      expect(parseSecretReference(ok).ok, ok).toBe(true);
    }
    for (const bad of ["hunter2hunter2", "ssm://x", "vault:x", "ssm:europe:/x", "ssm:eu-west-1:/a:b", "arn:aws:ssm:eu-west-1:123456789012:parameter/", "arn:aws:secretsmanager:us-east-1:1:secret:x", `${SM}\nmore`]) {
      expect(pattern.test(bad), bad).toBe(false);
      expect(parseSecretReference(bad).ok, bad).toBe(false);
    }
  });

  it("an SSM reference may name its region, as `ssm:<region>:<name>` or the parameter's ARN; a Secrets Manager ARN names its own", () => {
    const arn = "arn:aws:ssm:eu-west-1:210987654321:parameter/team/hf-token";
    const result = parseSpec(`${H}secrets:\n  A: ssm:/team/a\n  B: ssm:eu-west-1:/team/b\n  C: ssm:ap-south-1:plain-name\n  D: ${arn}\n  E: ${SM}\n`, "s.yaml");
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const refs = secretReferences(result.loaded.spec);
    expect(refs).toEqual([
      { env: "A", kind: "ssm", ref: "/team/a" },
      { env: "B", kind: "ssm", ref: "/team/b", region: "eu-west-1" },
      { env: "C", kind: "ssm", ref: "plain-name", region: "ap-south-1" },
      // GetParameter takes the ARN as its name (and must, for a parameter shared from another account).
      { env: "D", kind: "ssm", ref: arn, region: "eu-west-1" },
      { env: "E", kind: "secretsmanager", ref: SM, region: "us-east-1" },
    ]);
    expect("region" in refs[0]).toBe(false);
    // Written back as the spec has them: what messages and the role's grants use.
    expect(refs.map(referenceText)).toEqual(["ssm:/team/a", "ssm:eu-west-1:/team/b", "ssm:ap-south-1:plain-name", arn, SM]);
    expect(unqualifiedParameters(result.loaded.spec).map((r) => r.env)).toEqual(["A"]);
    // A name never holds `:`, so a plain name that looks like a region is still a name.
    expect(parseSecretReference("ssm:eu-west-1")).toMatchObject({ ok: true, ref: "eu-west-1" });
    expect(parseSecretReference("ssm:eu-west-1").ok && "region" in parseSecretReference("ssm:eu-west-1")).toBe(false);
  });

  it("secrets_kms_keys takes KMS key ARNs; an alias, a key id or anything else is a located error", () => {
    const key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const mrk = "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab";
    const result = parseSpec(`${H}secrets:\n  A: ssm:eu-west-1:/team/a\nsecrets_kms_keys:\n  - ${key}\n  - ${mrk}\n  - ${key}\n`, "s.yaml");
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(secretKmsKeys(result.loaded.spec)).toEqual([key, mrk]);
    expect(secretKmsKeys({})).toEqual([]);
    const errors = errorsOf(`${H}secrets:\n  A: ssm:/team/a\nsecrets_kms_keys:\n  - alias/team-secrets\n  - 1234abcd-12ab-34cd-56ef-1234567890ab\n`);
    expect(errors.map((e) => ({ code: e.code, path: e.path, line: e.line }))).toEqual([
      { code: "invalid_kms_key", path: "secrets_kms_keys[0]", line: 7 },
      { code: "invalid_kms_key", path: "secrets_kms_keys[1]", line: 8 },
    ]);
    expect(errors[0].message).toContain("alias");
    expect(errors[0].hint).toContain("aws kms describe-key --key-id alias/<name>");
    expect(errors[1].message).toContain("arn:aws:kms:<region>:<account>:key/<key id>");
    expect(errorsOf(`provider: gcp\ngpu_type: L4\nrun: x\nsecrets_kms_keys: [${key}]\n`)[0]).toMatchObject({ code: "secret_wrong_provider", path: "secrets_kms_keys" });
    const schema = (jobSpecJsonSchema() as { properties: Record<string, { items: { pattern: string } }> }).properties.secrets_kms_keys;
    const pattern = new RegExp(schema.items.pattern);
    expect([key, mrk].every((k) => pattern.test(k))).toBe(true);
    expect(["alias/x", "arn:aws:kms:eu-west-1:123456789012:alias/x", `${key}x`].some((k) => pattern.test(k))).toBe(false);
  });
});

describe("gcpsm: references (GCP Secret Manager)", () => {
  const G = "provider: gcp\ngpu_type: L4\nrun: python3 train.py\n";
  const schemaPattern = new RegExp(SECRET_REFERENCE_PATTERN);

  it.each([
    ["gcpsm:hf-token", "hf-token"],
    ["gcpsm:HF_Token_2", "HF_Token_2"],
    [`gcpsm:${"a".repeat(255)}`, "a".repeat(255)],
    ["gcpsm:projects/my-project/secrets/hf-token/versions/latest", "projects/my-project/secrets/hf-token/versions/latest"],
    ["gcpsm:projects/my-project/secrets/hf-token/versions/12", "projects/my-project/secrets/hf-token/versions/12"],
    ["gcpsm:projects/123456789012/secrets/db_pw/versions/1", "projects/123456789012/secrets/db_pw/versions/1"],
  ])("%s reads %s on GCP", (reference, ref) => {
    expect(parseSecretReference(reference)).toEqual({ ok: true, kind: "gcpsm", ref, provider: "gcp" });
    expect(schemaPattern.test(reference)).toBe(true);
    expect(referenceText({ kind: "gcpsm", ref })).toBe(reference);
  });

  it.each([
    ["gcpsm:", "names no secret", "gcpsm:hf-token"],
    ["gcpsm:hf.token", "letters, digits, `_` and `-` only", "gcloud secrets list"],
    [`gcpsm:${"a".repeat(256)}`, "at most 255 characters", undefined],
    ["gcpsm:hf-token/3", "named in the full form", "gcpsm:hf-token"],
    ["gcpsm:projects/my-project/secrets/hf-token", "names the version", "gcpsm:projects/my-project/secrets/hf-token/versions/latest"],
    ["gcpsm:projects/my-project/secrets/hf-token/versions/0", "`0` is not a secret version", "versions/latest"],
    ["gcpsm:projects/my-project/secrets/hf-token/versions/newest", "`newest` is not a secret version", undefined],
    ["gcpsm:projects/My_Project/secrets/hf-token/versions/1", "`My_Project` is not a GCP project id", "gcloud projects list"],
    ["gcpsm:projects/abc/secrets/hf-token/versions/1", "`abc` is not a GCP project id", undefined],
    ["gcpsm:projects/my-project/secrets/hf.token/versions/1", "secret id has letters", undefined],
    ["gcpsm:projects/my-project/locations/us-east1/secrets/s/versions/1", "regional secrets", "--replication-policy=automatic"],
    ["gcpsm:projects/my-project/secrets/s/versions/1/extra", "has the form gcpsm:projects/<project>/secrets/<secret>/versions/<version or latest>", "gcpsm:<secret>"],
    ["GCPSM:hf-token", "written `gcpsm:`, in lowercase", "gcpsm:hf-token"],
  ])("%s is invalid: %s", (reference, message, hint) => {
    const parsed = parseSecretReference(reference);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.message).toContain(message);
    if (hint) expect(parsed.hint).toContain(hint);
    expect(schemaPattern.test(reference)).toBe(false);
    const [error] = errorsOf(`${G}secrets:\n  TOKEN: "${reference}"\n`);
    expect({ code: error.code, path: error.path, line: error.line }).toEqual({ code: parsed.code, path: "secrets.TOKEN", line: 5 });
  });

  it("a GCP spec keeps them as written; secretReferences and secretGrants give what the service account must read", () => {
    const full = "gcpsm:projects/other-project/secrets/db_pw/versions/3";
    const result = parseSpec(`${G}secrets:\n  HF_TOKEN: gcpsm:hf-token\n  DB_PASSWORD: ${full}\n`, "s.yaml");
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.loaded.warnings).toEqual([]);
    const refs = secretReferences(result.loaded.spec);
    expect(refs).toEqual([
      { env: "HF_TOKEN", kind: "gcpsm", ref: "hf-token" },
      { env: "DB_PASSWORD", kind: "gcpsm", ref: "projects/other-project/secrets/db_pw/versions/3" },
    ]);
    expect(secretGrants(result.loaded.spec)).toEqual(["gcpsm:hf-token", full]);
    expect(refs.map((r) => gcpSecretVersionName(r.ref, "job-project"))).toEqual(["projects/job-project/secrets/hf-token/versions/latest", "projects/other-project/secrets/db_pw/versions/3"]);
    // Only SSM names without a region are read "in the job's region".
    expect(unqualifiedParameters(result.loaded.spec)).toEqual([]);
  });

  it.each([
    ["aws", "gcpsm:hf-token", "a Secret Manager secret is read on GCP instances, and this job runs on aws", "store it as an SSM parameter, which AWS instances read, and write e.g. `HF_TOKEN: ssm:/team/hf-token`"],
    ["gcp", "ssm:/team/hf-token", "an SSM parameter is read on AWS instances, and this job runs on gcp", "store it as a Secret Manager secret, which GCP instances read, and write e.g. `HF_TOKEN: gcpsm:hf-token`"],
    ["gcp", SM, "a Secrets Manager secret is read on AWS instances, and this job runs on gcp", "`HF_TOKEN: gcpsm:hf-token`"],
  ])("on %s, %s is the wrong provider's", (provider, reference, message, hint) => {
    const [error] = errorsOf(`provider: ${provider}\ngpu_type: L4\nrun: x\nsecrets:\n  HF_TOKEN: ${reference}\n`);
    expect(error).toMatchObject({ code: "secret_wrong_provider", path: "secrets.HF_TOKEN", line: 5, message });
    expect(error.hint).toContain(hint);
  });

  it("the known forms named for an unknown scheme include gcpsm:", () => {
    const parsed = parseSecretReference("vault:secret/x");
    expect(!parsed.ok && parsed.message).toContain("`gcpsm:<secret>`");
    expect(!parsed.ok && parsed.hint).toContain("Secret Manager (GCP)");
  });
});
