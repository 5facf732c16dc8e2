/**
 * `secrets:` by reference. A spec names where a secret lives, never its
 * value: `MY_TOKEN: ssm:/team/hf-token` (SSM Parameter Store, SecureString
 * decrypted, in the job's region), `ssm:eu-west-1:/team/hf-token` or a
 * parameter ARN (in the region named), or a Secrets Manager ARN (in its
 * region). On GCP: `gcpsm:<secret>` (the latest version of a Secret Manager
 * secret in the job's project) or `gcpsm:projects/<project>/secrets/<secret>/versions/<n|latest>`.
 * The instance reads them at start; the infra grants its role read
 * access to exactly these (secretReferences), in their regions.
 *
 * Each reference scheme is one entry of SCHEMES, with the provider it can be
 * read on.
 */
import { provider, PROVIDERS, type CloudId } from "../providers/registry";
import type { PathPart } from "./diagnostics";
import type { JobSpec } from "./schema";

export type SecretKind = "ssm" | "secretsmanager" | "gcpsm";

export interface SecretReference {
  /** The environment variable the job sees the value in. */
  env: string;
  kind: SecretKind;
  /**
   * What the service's API takes: the SSM parameter name (`/team/hf-token`,
   * without `ssm:` or a region), the ARN the reference gives (a parameter's
   * or a Secrets Manager secret's), or for `gcpsm:` what follows it: a secret
   * version's name (`projects/P/secrets/S/versions/V`) or a secret's id alone
   * (its latest version in the job's project: see gcpSecretVersionName).
   */
  ref: string;
  /**
   * The region the reference names (`ssm:<region>:<name>`, or an ARN's);
   * absent for `ssm:<name>`, which is read in the job's region.
   */
  region?: string;
}

export type ParsedReference =
  | { ok: true; kind: SecretKind; ref: string; region?: string; provider: CloudId }
  | { ok: false; code: string; message: string; hint?: string };

interface Scheme {
  kind: SecretKind;
  /** The provider whose instances can read it. */
  provider: CloudId;
  /** What it names, for messages: "an SSM parameter". */
  noun: string;
  /** Whole-reference pattern (also published in the JSON Schema). */
  pattern: RegExp;
  /** The name the API takes, from a reference that matches `pattern`. */
  ref(text: string): string;
  /** The region a reference that matches `pattern` names, if it names one. */
  region(text: string): string | undefined;
  /** Written like this: for messages. */
  example: string;
  /** What is wrong with a reference of this scheme that does not match `pattern`. */
  diagnose(text: string): { message: string; hint: string };
}

const AWS_PARTITION = "aws|aws-us-gov|aws-cn";
const AWS_REGION = "[a-z]{2}(?:-[a-z]+)+-\\d{1,2}";
/**
 * Parameter names: `/a/b/c` (a hierarchy) or one plain name; letters, digits,
 * `_.-` (never `:`, so `ssm:<region>:<name>` reads one way only).
 */
const SSM_NAME = "(?:(?:\\/[A-Za-z0-9_.-]+)+|[A-Za-z0-9_.-]+)";
const SSM_PATTERN = new RegExp(`^ssm:(?:${AWS_REGION}:)?${SSM_NAME}$`);
/** A parameter's ARN: the name without its leading `/` after `parameter/`. */
const SSM_ARN_PATTERN = new RegExp(`^arn:(?:${AWS_PARTITION}):ssm:${AWS_REGION}:\\d{12}:parameter\\/[A-Za-z0-9_.-]+(?:\\/[A-Za-z0-9_.-]+)*$`);
const SSM_ARN_FORMAT = "arn:aws:ssm:<region>:<account>:parameter/<name>";
const SECRETS_MANAGER_PATTERN = new RegExp(`^arn:(?:${AWS_PARTITION}):secretsmanager:${AWS_REGION}:\\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$`);
const SM_FORMAT = "arn:aws:secretsmanager:<region>:<account>:secret:<name>";

/**
 * Secret Manager (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access):
 * a secret id has letters, digits, `_` and `-`, at most 255 characters; a
 * project is named by its id (6–30 lowercase letters, digits and hyphens,
 * starting with a letter, not ending with a hyphen) or its number; a version
 * is a number from 1, or `latest`.
 */
const GCP_SECRET_ID = "[A-Za-z0-9_-]{1,255}";
const GCP_PROJECT = "(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|\\d{1,19})";
const GCP_VERSION = "(?:[1-9]\\d{0,18}|latest)";
const GCPSM_PATTERN = new RegExp(`^gcpsm:(?:${GCP_SECRET_ID}|projects\\/${GCP_PROJECT}\\/secrets\\/${GCP_SECRET_ID}\\/versions\\/${GCP_VERSION})$`);
const GCPSM_FORMAT = "gcpsm:projects/<project>/secrets/<secret>/versions/<version or latest>";

/** A KMS key's ARN (not an alias's: IAM grants kms:Decrypt on the key). Also published in the JSON Schema. */
export const KMS_KEY_ARN_PATTERN = `^arn:(?:${AWS_PARTITION}):kms:${AWS_REGION}:\\d{12}:key\\/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`;
const KMS_KEY_FORMAT = "arn:aws:kms:<region>:<account>:key/<key id>";

/** `ssm:eu-west-1:/team/x` → eu-west-1; `ssm:/team/x` → undefined. */
function ssmRegion(text: string): string | undefined {
  const rest = text.slice("ssm:".length);
  const colon = rest.indexOf(":");
  return colon === -1 ? undefined : rest.slice(0, colon);
}

/** An ARN's region (`arn:<partition>:<service>:<region>:…`). */
const arnRegion = (arn: string) => arn.split(":")[3];

/** Secret references longer than this are mistakes (SSM names: 1011, ARNs: well under). */
export const MAX_REFERENCE_LENGTH = 2048;

const SCHEMES: readonly Scheme[] = [
  {
    kind: "ssm",
    provider: "aws",
    noun: "an SSM parameter",
    pattern: SSM_PATTERN,
    ref: (text) => {
      const region = ssmRegion(text);
      return text.slice("ssm:".length + (region === undefined ? 0 : region.length + 1));
    },
    region: ssmRegion,
    example: "ssm:/team/hf-token",
    diagnose: (text) => {
      if (/^ssm:arn:/.test(text)) return { message: "a parameter ARN is written without `ssm:`", hint: `write \`${text.slice("ssm:".length)}\`` };
      const region = ssmRegion(text);
      if (region !== undefined && !new RegExp(`^${AWS_REGION}$`).test(region)) {
        return {
          message: `\`${region}\` is not an AWS region: a reference in another region is written \`ssm:<region>:<name>\``,
          hint: "write e.g. `ssm:eu-west-1:/team/hf-token`, or `ssm:/team/hf-token` for the job's own region",
        };
      }
      const name = text.slice("ssm:".length + (region === undefined ? 0 : region.length + 1));
      const prefix = region === undefined ? "ssm:" : `ssm:${region}:`;
      if (name.startsWith("//")) return { message: "an SSM reference has one slash after `ssm:`", hint: `write \`${prefix}/${name.replace(/^\/+/, "")}\`` };
      if (name === "") return { message: "the SSM reference names no parameter", hint: "write the parameter's name after `ssm:`, e.g. `ssm:/team/hf-token`" };
      if (!name.startsWith("/") && name.includes("/")) return { message: "a hierarchical SSM parameter name starts with `/`", hint: `write \`${prefix}/${name}\`` };
      return {
        message: "an SSM parameter name has letters, digits, `_`, `.`, `-` and `/` between its parts (no empty part, no trailing `/`)",
        hint: "write it as it appears in `aws ssm describe-parameters`, e.g. `ssm:/team/hf-token`",
      };
    },
  },
  {
    kind: "ssm",
    provider: "aws",
    noun: "an SSM parameter",
    pattern: SSM_ARN_PATTERN,
    ref: (text) => text,
    region: arnRegion,
    example: "arn:aws:ssm:eu-west-1:123456789012:parameter/team/hf-token",
    diagnose: () => ({
      message: `an SSM parameter ARN has the form ${SSM_ARN_FORMAT}`,
      hint: "copy the parameter's ARN from `aws ssm get-parameter --name <name>`, or write `ssm:<region>:<name>`",
    }),
  },
  {
    kind: "secretsmanager",
    provider: "aws",
    noun: "a Secrets Manager secret",
    pattern: SECRETS_MANAGER_PATTERN,
    ref: (text) => text,
    region: arnRegion,
    example: "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-AbCdEf",
    diagnose: () => ({
      message: `a Secrets Manager ARN has the form ${SM_FORMAT}`,
      hint: "copy the secret's ARN from `aws secretsmanager describe-secret --secret-id <name>`",
    }),
  },
  {
    kind: "gcpsm",
    provider: "gcp",
    noun: "a Secret Manager secret",
    pattern: GCPSM_PATTERN,
    ref: (text) => text.slice("gcpsm:".length),
    region: () => undefined,
    example: "gcpsm:hf-token",
    diagnose: diagnoseGcpsm,
  },
];

/** What is wrong with a `gcpsm:` reference that does not match its pattern. */
function diagnoseGcpsm(text: string): { message: string; hint: string } {
  const rest = text.slice("gcpsm:".length);
  if (rest === "") return { message: "the Secret Manager reference names no secret", hint: "write the secret's id after `gcpsm:`, e.g. `gcpsm:hf-token`" };
  if (!rest.startsWith("projects/")) {
    const slash = rest.indexOf("/");
    if (slash > 0 && new RegExp(`^${GCP_SECRET_ID}$`).test(rest.slice(0, slash))) {
      return { message: "a version or another project is named in the full form", hint: `write \`${GCPSM_FORMAT}\`, or \`gcpsm:${rest.slice(0, slash)}\` for its latest version in the job's project` };
    }
    return { message: "a Secret Manager secret id has letters, digits, `_` and `-` only, at most 255 characters", hint: "write it as `gcloud secrets list` shows it, e.g. `gcpsm:hf-token`" };
  }
  const parts = rest.split("/");
  if (parts[2] === "locations") return { message: "regional secrets (projects/<project>/locations/<location>/secrets/...) are not supported", hint: "use a global secret: `gcloud secrets create <secret> --replication-policy=automatic`" };
  const [, project, secrets, secret, versions, version] = parts;
  if (parts.length === 4 && secrets === "secrets") return { message: "a full Secret Manager reference names the version", hint: `write \`gcpsm:${rest}/versions/latest\` (or a version number)` };
  if (parts.length !== 6 || secrets !== "secrets" || versions !== "versions") return { message: `a full Secret Manager reference has the form ${GCPSM_FORMAT}`, hint: "or write `gcpsm:<secret>` for the latest version of a secret in the job's project" };
  if (!new RegExp(`^${GCP_PROJECT}$`).test(project)) return { message: `\`${project}\` is not a GCP project id (6–30 lowercase letters, digits and hyphens, starting with a letter) or number`, hint: "write the project's id as `gcloud projects list` shows it" };
  if (!new RegExp(`^${GCP_SECRET_ID}$`).test(secret)) return { message: "a Secret Manager secret id has letters, digits, `_` and `-` only, at most 255 characters", hint: "write it as `gcloud secrets list` shows it" };
  return { message: `\`${version}\` is not a secret version: a version is a number from 1, or \`latest\``, hint: `write \`gcpsm:projects/${project}/secrets/${secret}/versions/latest\`` };
}

/**
 * The Secret Manager version a `gcpsm:` reference's `ref` names, in full: a
 * bare secret id is its latest version in `project` (the job's). Pure.
 */
export function gcpSecretVersionName(ref: string, project: string): string {
  return ref.startsWith("projects/") ? ref : `projects/${project}/secrets/${ref}/versions/latest`;
}

/** The scheme a reference claims to be, by its prefix (it may still be malformed). */
function schemeOf(text: string): Scheme | undefined {
  if (text.startsWith("ssm:")) return SCHEMES[0];
  if (/^arn:[a-z-]+:ssm:/.test(text)) return SCHEMES[1];
  if (/^arn:[a-z-]+:secretsmanager:/.test(text)) return SCHEMES[2];
  if (text.startsWith("gcpsm:")) return SCHEMES[3];
  return undefined;
}

/** The schemes written `<name>:`, for a prefix in the wrong case. */
const NAMED_SCHEMES = ["ssm", "gcpsm"];

/** One pattern for every valid reference: the JSON Schema's, for editors. */
export const SECRET_REFERENCE_PATTERN = SCHEMES.map((s) => `(?:${s.pattern.source})`).join("|");

/** The schemes, for messages: "ssm:/team/hf-token or arn:aws:secretsmanager:...". */
const KNOWN_FORMS = `\`ssm:/path/to/parameter\` (\`ssm:<region>:/path/to/parameter\` in another region), a parameter ARN or a Secrets Manager ARN (\`${SM_FORMAT}\`) on AWS, \`gcpsm:<secret>\` or \`${GCPSM_FORMAT}\` on GCP`;

/**
 * Parses one reference. Messages never repeat the text unless it is a
 * reference of a known scheme: a value written by mistake stays out of logs.
 */
export function parseSecretReference(text: string, env = "HF_TOKEN"): ParsedReference {
  const scheme = schemeOf(text);
  if (scheme) {
    if (text.length > MAX_REFERENCE_LENGTH) return { ok: false, code: "too_big", message: `the reference is longer than ${MAX_REFERENCE_LENGTH} characters`, hint: `write ${KNOWN_FORMS}` };
    if (scheme.pattern.test(text)) {
      const region = scheme.region(text);
      return { ok: true, kind: scheme.kind, ref: scheme.ref(text), ...(region === undefined ? {} : { region }), provider: scheme.provider };
    }
    return { ok: false, code: "invalid_reference", ...scheme.diagnose(text) };
  }
  if (text.startsWith("arn:")) {
    return { ok: false, code: "unknown_scheme", message: `only SSM parameter ARNs (${SSM_ARN_FORMAT}) and Secrets Manager ARNs (${SM_FORMAT}) can be referenced`, hint: `write ${KNOWN_FORMS}` };
  }
  // `vault:secret/x`, `https://...`: a scheme we do not read. Name it only when it
  // is short and plain, so a value that happens to hold a colon is not echoed.
  const named = /^([A-Za-z][A-Za-z0-9+.-]{0,15}):/.exec(text)?.[1];
  const lower = named?.toLowerCase();
  if (lower && NAMED_SCHEMES.includes(lower)) {
    return { ok: false, code: "unknown_scheme", message: `the scheme is written \`${lower}:\`, in lowercase`, hint: `write \`${lower}:${text.slice(lower.length + 1)}\`` };
  }
  if (named) {
    return {
      ok: false,
      code: "unknown_scheme",
      message: `unknown reference scheme \`${named}:\`; spotjob reads ${KNOWN_FORMS}`,
      hint: "store the secret in SSM Parameter Store or Secrets Manager (AWS), or Secret Manager (GCP), and reference it by name",
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
    if (parsed.ok) out.push({ env, kind: parsed.kind, ref: parsed.ref, ...(parsed.region === undefined ? {} : { region: parsed.region }) });
  }
  return out;
}

/** A reference as the spec writes it (`ssm:/x`, `ssm:eu-west-1:/x`, an ARN): for messages and the role's grants. */
export function referenceText(r: Pick<SecretReference, "kind" | "ref" | "region">): string {
  if (r.kind === "gcpsm") return `gcpsm:${r.ref}`;
  if (r.ref.startsWith("arn:")) return r.ref;
  return r.region === undefined ? `ssm:${r.ref}` : `ssm:${r.region}:${r.ref}`;
}

/** What the instance role must be allowed: each reference as written (in its region) and each declared KMS key. */
export function secretGrants(spec: Pick<JobSpec, "secrets"> & Partial<Pick<JobSpec, "secrets_kms_keys">>): string[] {
  return [...secretReferences(spec).map(referenceText), ...secretKmsKeys(spec)];
}

/** The job's `ssm:` references read in the job's own region (no region named): what a job with no fixed region should not have. */
export function unqualifiedParameters(spec: Pick<JobSpec, "secrets">): SecretReference[] {
  return secretReferences(spec).filter((r) => r.kind === "ssm" && r.region === undefined);
}

export interface SecretProblem {
  path: PathPart[];
  code: string;
  message: string;
  hint?: string;
  /** Point at the key (the variable's name) rather than the reference. */
  atKey?: boolean;
}

/** What is wrong with each of `secrets_kms_keys` (the schema checked they are text). */
function kmsKeyProblems(spec: Pick<JobSpec, "secrets_kms_keys" | "provider">): SecretProblem[] {
  const keys = spec.secrets_kms_keys ?? [];
  if (keys.length === 0) return [];
  // KMS keys decrypt SSM parameters and Secrets Manager secrets: only where those are read.
  if (!provider(spec.provider).secretSchemes.includes("ssm")) {
    return [{ path: ["secrets_kms_keys"], code: "secret_wrong_provider", message: `KMS keys decrypt secrets on AWS, and this job runs on ${spec.provider}`, hint: "remove `secrets_kms_keys`", atKey: true }];
  }
  const pattern = new RegExp(KMS_KEY_ARN_PATTERN);
  const problems: SecretProblem[] = [];
  keys.forEach((key, i) => {
    if (pattern.test(key)) return;
    const alias = /^(?:arn:[a-z-]+:kms:[^:]*:[^:]*:)?alias\//.test(key);
    problems.push({
      path: ["secrets_kms_keys", i],
      code: "invalid_kms_key",
      message: alias ? "an alias cannot be granted kms:Decrypt: name the key itself" : `a KMS key is named by its ARN, ${KMS_KEY_FORMAT}`,
      hint: alias ? "write the key's ARN: `aws kms describe-key --key-id alias/<name> --query KeyMetadata.Arn`" : "copy the ARN of the key that encrypts the parameter or secret (`aws kms describe-key --key-id <id>`)",
    });
  });
  return problems;
}

/** The customer-managed KMS keys the spec declares (`secrets_kms_keys`), valid ones only: the role may decrypt with them through SSM and Secrets Manager. */
export function secretKmsKeys(spec: Pick<JobSpec, "secrets_kms_keys">): string[] {
  const pattern = new RegExp(KMS_KEY_ARN_PATTERN);
  return [...new Set((spec.secrets_kms_keys ?? []).filter((k) => pattern.test(k)))];
}

/** Cross-field checks of `secrets` and `secrets_kms_keys` (the schema checked the names and that values are text). */
export function secretProblems(spec: Pick<JobSpec, "secrets" | "envs" | "provider"> & Partial<Pick<JobSpec, "secrets_kms_keys">>, runtimeEnvNames: readonly string[]): SecretProblem[] {
  const kms = kmsKeyProblems(spec);
  const entries = Object.entries(spec.secrets ?? {});
  if (entries.length === 0) return kms;
  if (provider(spec.provider).launch === "this-machine") {
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
  const problems: SecretProblem[] = [...kms];
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
      const scheme = schemeOf(text)!;
      // The job's own provider's form, if it reads secrets at all.
      const own = SCHEMES.find((s) => s.provider === spec.provider);
      problems.push({
        path: ["secrets", env],
        code: "secret_wrong_provider",
        message: `${scheme.noun} is read on ${PROVIDERS[parsed.provider].title} instances, and this job runs on ${spec.provider}`,
        hint: own
          ? `store it as ${own.noun}, which ${PROVIDERS[own.provider].title} instances read, and write e.g. \`${env}: ${own.example}\``
          : `secrets on ${spec.provider} are not supported yet: remove \`${env}\` from \`secrets\``,
      });
    }
  }
  return problems;
}
