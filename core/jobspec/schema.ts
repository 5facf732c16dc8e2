/**
 * The job spec: MADDENING JobConfig v1, unchanged and with its original
 * defaults, plus spotjob's own fields. One zod schema is the single source for
 * validation, the error hints (each field's `example`) and the published JSON
 * Schema (`jobs/job-spec.schema.json`).
 */
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { KMS_KEY_ARN_PATTERN, SECRET_REFERENCE_PATTERN } from "./secrets";

export { PROVIDER_IDS as PROVIDERS, type ProviderId as Provider } from "../providers/registry";
import { PROVIDER_IDS as PROVIDERS } from "../providers/registry";

/** Upper bounds that catch typos (an extra zero) without limiting real jobs. */
export const LIMITS = {
  gpuCount: 16,
  diskGb: 65_536,
  dollarsPerHour: 10_000,
  totalBudget: 10_000_000,
  minutes: 60 * 24 * 60, // 60 days
  sweepItems: 1_000_000,
  parallel: 1024,
  maxAttempts: 100,
  ports: 64,
  envs: 1000,
  stringBytes: 256 * 1024,
} as const;

interface FieldDoc {
  description: string;
  /** A YAML fragment shown in error hints, e.g. `gpu_count: 8`. */
  example: string;
}

/** Each documented field's example as YAML, for error hints. */
const EXAMPLES = new WeakMap<z.ZodType, string>();

function doc<T extends z.ZodType>(schema: T, d: FieldDoc): T {
  // JSON Schema examples are values: `gpu_count: 8` publishes 8.
  const value = Object.values(parseYaml(d.example) as Record<string, unknown>)[0];
  const documented = schema.meta({ description: d.description, examples: [value] }) as T;
  EXAMPLES.set(documented, d.example);
  return documented;
}

const text = z.string().max(LIMITS.stringBytes);
const minutes = z.int().min(1).max(LIMITS.minutes);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CLOUD_LOCATION = /^[a-z][a-z0-9-]{1,62}$/;
const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;
const SSH_PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/;

export const CostSchema = z
  .strictObject({
    max_cost_per_hour: doc(z.number().nonnegative().max(LIMITS.dollarsPerHour).default(2.0), {
      description:
        "USD per hour. The launch is rejected if the chosen offer's hourly price (and the on-demand fallback's, when spot_fallback is on) is greater.",
      example: "max_cost_per_hour: 2.5",
    }),
    max_total_budget: doc(z.number().nonnegative().max(LIMITS.totalBudget).default(5.0), {
      description:
        "USD for the whole job across every attempt. Shown as the hours it buys; spotjob stops the job when it is spent.",
      example: "max_total_budget: 50",
    }),
    autostop_minutes: doc(z.int().min(0).max(LIMITS.minutes).default(15), {
      description: "Idle minutes after the job ends before the instance is stopped or torn down (0 = at once).",
      example: "autostop_minutes: 15",
    }),
    auto_teardown: doc(z.boolean().default(true), {
      description: "Terminate instead of stop when the job ends or is stopped.",
      example: "auto_teardown: true",
    }),
    spot_fallback: doc(z.boolean().default(false), {
      description: "If spot capacity is unavailable, run on-demand instead (after spot_fallback_after_minutes).",
      example: "spot_fallback: true",
    }),
  })
  .meta({ description: "Cost guards." });

export const SshSchema = z
  .strictObject({
    public_key: doc(text.regex(SSH_PUBLIC_KEY), {
      description: "OpenSSH public key authorised on the instance.",
      example: 'public_key: "ssh-ed25519 AAAAC3Nza... you@laptop"',
    }),
    cidrs: doc(z.array(z.string().regex(IPV4_CIDR)).min(1).max(16), {
      description: "IPv4 CIDR blocks allowed to reach port 22. Nothing else is opened.",
      example: 'cidrs: ["203.0.113.7/32"]',
    }),
  })
  .meta({ description: "Opt-in SSH access. Without it the instance accepts no inbound connection." });

/** A sweep item: a map of field name to any JSON value. */
const SweepItemSchema = z.record(z.string(), z.unknown());

export const SweepSchema = z
  .strictObject({
    items: doc(z.array(SweepItemSchema).min(1).max(LIMITS.sweepItems).optional(), {
      description: "The sweep's items, each a map of fields. Give `items` or `grid`, not both.",
      example: "items: [{lr: 0.1, label: fast}, {lr: 0.01, label: slow}]",
    }),
    grid: doc(z.record(z.string(), z.array(z.unknown()).min(1)).optional(), {
      description: "Map of field to list of values, expanded as their product (in key order). Give `items` or `grid`, not both.",
      example: "grid: {lr: [0.1, 0.01], seed: [1, 2, 3]}",
    }),
    key: doc(text.min(1).max(512).optional(), {
      description:
        "Stable identity of an item: a template such as \"{label}-{seed}\" or a field name. Default: a hash of the item's canonical JSON.",
      example: 'key: "{label}"',
    }),
    command: doc(text.trim().min(1).optional(), {
      description:
        "Shell command run per item. The item is in $SWEEP_ITEM (JSON) and $SWEEP_KEY; {field} is replaced by the item's value, shell-quoted ({{ and }} are literal braces). Give `command` or `worker`, not both.",
      example: 'command: "python3 train.py --lr {lr} --seed {seed}"',
    }),
    worker: doc(text.trim().min(1).optional(), {
      description:
        "Shell command started once per slot that takes items one at a time over the worker protocol (one JSON item per line on stdin, one JSON result per line on file descriptor 3), so start-up (imports, CUDA) is paid once, not per item. Give `command` or `worker`, not both.",
      example: 'worker: "python3 train_worker.py"',
    }),
    parallel: doc(z.union([z.int().min(1).max(LIMITS.parallel), z.literal("gpus")]).default(1), {
      description: 'Items run at once: a number, or "gpus" for one item per GPU (CUDA_VISIBLE_DEVICES set per slot).',
      example: "parallel: gpus",
    }),
    max_attempts: doc(z.int().min(1).max(LIMITS.maxAttempts).default(3), {
      description: "Attempts per item before it is recorded as failed (a later resume retries failed items).",
      example: "max_attempts: 3",
    }),
  })
  .meta({ description: "A declarative, resumable parameter sweep." });

/** Env values: YAML scalars, kept as the user wrote them (the loader passes their source text). */
const EnvValue = z.union([text, z.number(), z.boolean()]);

export const JobSpecSchema = z
  .strictObject({
    version: doc(z.literal(1).default(1), {
      description: "Format version of the JobConfig. Only 1 exists.",
      example: "version: 1",
    }),
    name: doc(z.string().regex(/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/).optional(), {
      description:
        "spotjob: job name (lowercase letters, digits, '-'; 2-40 chars). Default: the spec's file name. Names the store folder and cloud resources.",
      example: "name: confinement-h100",
    }),
    provider: doc(z.enum(PROVIDERS), {
      description: "Where the job runs: aws, gcp or local (runpod and lambda_labs are accepted but cannot be launched yet).",
      example: "provider: aws",
    }),
    gpu_type: doc(text.min(1).max(64).optional(), {
      description: "Accelerator model, in any vendor's spelling (H100, H100-SXM, A100-80GB, L4, A10G, T4, L40S, H200, ...). Required unless provider is local.",
      example: 'gpu_type: "H100"',
    }),
    gpu_count: doc(z.int().min(1).max(LIMITS.gpuCount).default(1), {
      description: "GPUs on one instance.",
      example: "gpu_count: 1",
    }),
    use_spot: doc(z.boolean().default(true), {
      description: "Use spot / preemptible capacity.",
      example: "use_spot: true",
    }),
    region: doc(z.union([z.literal(""), z.string().regex(CLOUD_LOCATION)]).default(""), {
      description: 'Region; "" = the cheapest region that offers the GPU.',
      example: 'region: "us-east-1"',
    }),
    disk_size: doc(z.int().min(1).max(LIMITS.diskGb).default(50), {
      description: "Root disk size in GB.",
      example: "disk_size: 100",
    }),
    cost: CostSchema.prefault({}),
    container_image: doc(text.max(512).optional(), {
      description: "Container image in which setup and run execute (GPU passthrough). Unset: on the host image.",
      example: 'container_image: "nvcr.io/nvidia/pytorch:24.08-py3"',
    }),
    stream_preset: doc(text.max(64).default("standard"), {
      description: "Accepted for compatibility with JobConfig; spotjob runs batch jobs and ignores it.",
      example: "stream_preset: standard",
    }),
    setup: doc(text.default(""), {
      description: "Shell run once per machine before run (a finished setup is not repeated after a restart).",
      example: "setup: pip3 install -r requirements.txt",
    }),
    run: doc(text.default(""), {
      description: "Shell commands of the job. Required unless a sweep is given (then run, if any, runs after the sweep).",
      example: "run: python3 train.py",
    }),
    workdir: doc(text.max(4096).default(""), {
      description: "Local folder (relative to the spec) synced to the instance; setup and run execute in it.",
      example: 'workdir: "."',
    }),
    ports: doc(z.array(z.int().min(1).max(65535)).max(LIMITS.ports).default([8000]), {
      description: "Accepted for compatibility; spotjob opens no inbound port (see ssh).",
      example: "ports: [8000]",
    }),
    envs: doc(z.record(z.string().regex(ENV_NAME), EnvValue).default({}), {
      description: "Environment for setup, run and sweep commands.",
      example: "envs: {WANDB_MODE: offline}",
    }),
    // spotjob's own fields
    sweep: SweepSchema.optional(),
    max_runtime_minutes: doc(minutes.optional(), {
      description:
        "spotjob: hard cap on the job's wall time across all attempts. Default: the hours max_total_budget buys at the highest price the job can run at.",
      example: "max_runtime_minutes: 600",
    }),
    spot_fallback_after_minutes: doc(z.int().min(1).max(1440).default(10), {
      description: "spotjob: minutes without a running spot instance before the on-demand fallback takes over.",
      example: "spot_fallback_after_minutes: 10",
    }),
    instance_type: doc(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,62}$/).optional(), {
      description: "spotjob: force this instance / machine type (it must still offer the GPU request).",
      example: "instance_type: g5.xlarge",
    }),
    regions: doc(z.array(z.string().regex(CLOUD_LOCATION)).min(1).max(64).optional(), {
      description: "spotjob: regions to choose from (instead of region).",
      example: "regions: [us-east-1, us-west-2]",
    }),
    zones: doc(z.array(z.string().regex(CLOUD_LOCATION)).min(1).max(64).optional(), {
      description: "spotjob: restrict capacity to these zones.",
      example: "zones: [us-east-1a, us-east-1b]",
    }),
    ssh: SshSchema.optional(),
    secrets: doc(
      z
        .record(z.string().regex(ENV_NAME), text.min(1).meta({ pattern: SECRET_REFERENCE_PATTERN }))
        .default({}),
      {
        description:
          "spotjob: environment variables whose values the instance reads at start from a secret store: a map of variable name to reference. On AWS `ssm:/path/to/parameter` (SSM Parameter Store, SecureString decrypted) or a Secrets Manager ARN; on GCP `gcpsm:<secret>` (the latest version of a Secret Manager secret in the job's project) or `gcpsm:projects/<project>/secrets/<secret>/versions/<version or latest>`. Only references are in the spec and the instance's metadata; the values reach setup, run and sweep commands and workers only, and are masked (***) in logs. With provider local, export the variables in your shell instead.",
        example: 'secrets: {HF_TOKEN: "ssm:/team/hf-token"}',
      },
    ),
    secrets_kms_keys: doc(z.array(text.min(1).meta({ pattern: KMS_KEY_ARN_PATTERN })).min(1).max(64).optional(), {
      description:
        "spotjob: ARNs of the customer-managed KMS keys that encrypt the `secrets` (SecureString parameters, Secrets Manager secrets). The instance role may use each for kms:Decrypt through SSM and Secrets Manager only (kms:ViaService). Not needed for the AWS-managed keys (aws/ssm, aws/secretsmanager).",
      example: 'secrets_kms_keys: ["arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]',
    }),
  })
  .meta({
    title: "spotjob job spec",
    description: "A MADDENING JobConfig v1 job spec, with spotjob's extensions.",
  });

export type JobSpecInput = z.input<typeof JobSpecSchema>;
export type JobSpec = z.output<typeof JobSpecSchema>;
export type CostSpec = z.output<typeof CostSchema>;
export type SweepSpec = z.output<typeof SweepSchema>;

/** Known keys of each mapping in a spec, by its path: used for "did you mean". */
export const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": Object.keys(JobSpecSchema.shape),
  cost: Object.keys(CostSchema.shape),
  sweep: Object.keys(SweepSchema.shape),
  ssh: Object.keys(SshSchema.shape),
};

/** The `example` of the field at a dotted path, for error hints. */
export function fieldExample(path: readonly (string | number)[]): string | undefined {
  let schema: z.ZodType | undefined = JobSpecSchema;
  for (const part of path) {
    if (typeof part === "number") return undefined;
    schema = childSchema(schema, part);
    if (!schema) return undefined;
  }
  for (let s: z.ZodType | undefined = schema, i = 0; s && i < 8; s = innerOf(s), i++) {
    const example = EXAMPLES.get(s);
    if (example) return example;
  }
  return undefined;
}

function innerOf(schema: z.ZodType): z.ZodType | undefined {
  return (schema as unknown as { _zod: { def: { innerType?: z.ZodType } } })._zod.def.innerType;
}

/** The schema under defaults and optionals. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let inner = innerOf(s); inner; inner = innerOf(s)) s = inner;
  return s;
}

function childSchema(schema: z.ZodType | undefined, key: string): z.ZodType | undefined {
  const inner = schema && unwrap(schema);
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, z.ZodType>)[key] : undefined;
}
