/**
 * `secrets:` by reference. A spec names where a secret lives, never its
 * value: `MY_TOKEN: ssm:/team/hf-token` (SSM Parameter Store, SecureString
 * decrypted) or a Secrets Manager ARN. The instance reads them at start; the
 * infra grants its role read access to exactly these (secretReferences).
 *
 * Each reference scheme is one entry of SCHEMES: a new store (GCP Secret
 * Manager, say) is a new entry, with the provider it can be read on.
 */
import type { PathPart } from "./diagnostics";
import type { JobSpec } from "./schema";

export type SecretKind = "ssm" | "secretsmanager";

export interface SecretReference {
  /** The environment variable the job sees the value in. */
  env: string;
  kind: SecretKind;
  /**
   * What the service's API takes and what the role's grant names: the SSM
   * parameter name (`/team/hf-token`, without `ssm:`) or the Secrets Manager ARN.
   */
  ref: string;
}

export type ParsedReference =
  | { ok: true; kind: SecretKind; ref: string; provider: "aws" }
  | { ok: false; code: string; message: string; hint?: string };

interface Scheme {
  kind: SecretKind;
  /** The provider whose instances can read it. */
  provider: "aws";
  /** Whole-reference pattern (also published in the JSON Schema). */
  pattern: RegExp;
  /** The name the API takes, from a reference that matches `pattern`. */
  ref(text: string): string;
  /** Written like this: for messages. */
  example: string;
  /** What is wrong with a reference of this scheme that does not match `pattern`. */
  diagnose(text: string): { message: string; hint: string };
}

/** Parameter names: `/a/b/c` (a hierarchy) or one plain name; letters, digits, `_.-`. */
const SSM_PATTERN = /^ssm:(?:(?:\/[A-Za-z0-9_.-]+)+|[A-Za-z0-9_.-]+)$/;
const AWS_PARTITION = "aws|aws-us-gov|aws-cn";
const AWS_REGION = "[a-z]{2}(?:-[a-z]+)+-\\d{1,2}";
const SECRETS_MANAGER_PATTERN = new RegExp(`^arn:(?:${AWS_PARTITION}):secretsmanager:${AWS_REGION}:\\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$`);
const SM_FORMAT = "arn:aws:secretsmanager:<region>:<account>:secret:<name>";

/** Secret references longer than this are mistakes (SSM names: 1011, ARNs: well under). */
export const MAX_REFERENCE_LENGTH = 2048;

const SCHEMES: readonly Scheme[] = [
  {
    kind: "ssm",
    provider: "aws",
    pattern: SSM_PATTERN,
    ref: (text) => text.slice("ssm:".length),
    example: "ssm:/team/hf-token",
    diagnose: (text) => {
      const name = text.slice("ssm:".length);
      if (name.startsWith("//")) return { message: "an SSM reference has one slash after `ssm:`", hint: `write \`ssm:/${name.replace(/^\/+/, "")}\`` };
      if (name === "") return { message: "the SSM reference names no parameter", hint: "write the parameter's name after `ssm:`, e.g. `ssm:/team/hf-token`" };
      if (!name.startsWith("/") && name.includes("/")) return { message: "a hierarchical SSM parameter name starts with `/`", hint: `write \`ssm:/${name}\`` };
      return {
        message: "an SSM parameter name has letters, digits, `_`, `.`, `-` and `/` between its parts (no empty part, no trailing `/`)",
        hint: "write it as it appears in `aws ssm describe-parameters`, e.g. `ssm:/team/hf-token`",
      };
    },
  },
  {
    kind: "secretsmanager",
    provider: "aws",
    pattern: SECRETS_MANAGER_PATTERN,
    ref: (text) => text,
    example: "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-AbCdEf",
    diagnose: () => ({
      message: `a Secrets Manager ARN has the form ${SM_FORMAT}`,
      hint: "copy the secret's ARN from `aws secretsmanager describe-secret --secret-id <name>`",
    }),
  },
];

/** The scheme a reference claims to be, by its prefix (it may still be malformed). */
function schemeOf(text: string): Scheme | undefined {
  if (text.startsWith("ssm:")) return SCHEMES[0];
  if (/^arn:[a-z-]+:secretsmanager:/.test(text)) return SCHEMES[1];
  return undefined;
}

/** One pattern for every valid reference: the JSON Schema's, for editors. */
export const SECRET_REFERENCE_PATTERN = SCHEMES.map((s) => `(?:${s.pattern.source})`).join("|");

/** The schemes, for messages: "ssm:/team/hf-token or arn:aws:secretsmanager:...". */
const KNOWN_FORMS = `\`ssm:/path/to/parameter\` or a Secrets Manager ARN (\`${SM_FORMAT}\`)`;

/**
 * Parses one reference. Messages never repeat the text unless it is a
 * reference of a known scheme: a value written by mistake stays out of logs.
 */
export function parseSecretReference(text: string, env = "HF_TOKEN"): ParsedReference {
  const scheme = schemeOf(text);
  if (scheme) {
    if (text.length > MAX_REFERENCE_LENGTH) return { ok: false, code: "too_big", message: `the reference is longer than ${MAX_REFERENCE_LENGTH} characters`, hint: `write ${KNOWN_FORMS}` };
    if (scheme.pattern.test(text)) return { ok: true, kind: scheme.kind, ref: scheme.ref(text), provider: scheme.provider };
    return { ok: false, code: "invalid_reference", ...scheme.diagnose(text) };
  }
  const ssmArn = /^arn:(?:aws|aws-us-gov|aws-cn):ssm:[^:]*:[^:]*:parameter(\/.*)$/.exec(text);
  if (ssmArn) {
    return { ok: false, code: "invalid_reference", message: "SSM parameters are referenced by name, not by ARN", hint: `write \`ssm:${ssmArn[1]}\`` };
  }
  if (text.startsWith("arn:")) {
    return { ok: false, code: "unknown_scheme", message: `only Secrets Manager ARNs can be referenced (${SM_FORMAT})`, hint: `write ${KNOWN_FORMS}` };
  }
  // `vault:secret/x`, `https://...`: a scheme we do not read. Name it only when it
  // is short and plain, so a value that happens to hold a colon is not echoed.
  const named = /^([A-Za-z][A-Za-z0-9+.-]{0,15}):/.exec(text)?.[1];
  if (named?.toLowerCase() === "ssm") {
    return { ok: false, code: "unknown_scheme", message: "the scheme is written `ssm:`, in lowercase", hint: `write \`ssm:${text.slice(4)}\`` };
  }
  if (named) {
    return {
      ok: false,
      code: "unknown_scheme",
      message: `unknown reference scheme \`${named}:\`; spotjob reads ${KNOWN_FORMS}`,
      hint: "store the secret in SSM Parameter Store or Secrets Manager and reference it by name",
    };
  }
  return {
    ok: false,
    code: "secret_literal",
    message: `expected a reference such as ${KNOWN_FORMS}, got what looks like the secret's value itself (not repeated here)`,
    hint: `never write a secret's value in a spec: store it (\`aws ssm put-parameter --type SecureString --name ${ssmName(env)} --value ...\`), write \`${env}: ssm:${ssmName(env)}\`, and rotate the value: it has been in a file`,
  };
}

/** A parameter name to suggest for a variable: HF_TOKEN → /team/hf-token. */
function ssmName(env: string): string {
  return `/team/${env.toLowerCase().replace(/_/g, "-")}`;
}

/** The job's secrets, parsed (invalid references are left out: the loader reports them). */
export function secretReferences(spec: Pick<JobSpec, "secrets">): SecretReference[] {
  const out: SecretReference[] = [];
  for (const [env, text] of Object.entries(spec.secrets ?? {})) {
    const parsed = parseSecretReference(text);
    if (parsed.ok) out.push({ env, kind: parsed.kind, ref: parsed.ref });
  }
  return out;
}

export interface SecretProblem {
  path: PathPart[];
  code: string;
  message: string;
  hint?: string;
  /** Point at the key (the variable's name) rather than the reference. */
  atKey?: boolean;
}

/** Cross-field checks of `secrets` (the schema checked the names and that values are text). */
export function secretProblems(spec: Pick<JobSpec, "secrets" | "envs" | "provider">, runtimeEnvNames: readonly string[]): SecretProblem[] {
  const entries = Object.entries(spec.secrets ?? {});
  if (entries.length === 0) return [];
  if (spec.provider === "local") {
    const names = entries.map(([env]) => env);
    return [
      {
        path: ["secrets"],
        code: "secret_on_local",
        message: "`secrets` are read by a cloud instance; a `provider: local` job runs on this machine",
        hint: `remove \`secrets\` and export ${names.map((n) => `\`${n}\``).join(", ")} in the shell that starts the job: a local job inherits this machine's environment`,
        atKey: true,
      },
    ];
  }
  const problems: SecretProblem[] = [];
  for (const [env, text] of entries) {
    if (env in spec.envs) {
      problems.push({ path: ["secrets", env], code: "conflict", message: `\`${env}\` is set in both \`envs\` and \`secrets\``, hint: `remove \`${env}\` from \`envs\`: the secret's value is what the job sees`, atKey: true });
      continue;
    }
    if (runtimeEnvNames.includes(env) || env.startsWith("SPOTJOB_")) {
      problems.push({ path: ["secrets", env], code: "reserved", message: `\`${env}\` is set by the spotjob runtime`, hint: "give the secret another variable name", atKey: true });
      continue;
    }
    const parsed = parseSecretReference(text, env);
    if (!parsed.ok) {
      problems.push({ path: ["secrets", env], code: parsed.code, message: parsed.message, hint: parsed.hint });
    } else if (parsed.provider !== spec.provider) {
      problems.push({
        path: ["secrets", env],
        code: "secret_wrong_provider",
        message: `${parsed.kind === "ssm" ? "an SSM parameter" : "a Secrets Manager secret"} is read on AWS, and this job runs on ${spec.provider}`,
        hint: `secrets on ${spec.provider} are not supported yet: remove \`${env}\` from \`secrets\``,
      });
    }
  }
  return problems;
}
