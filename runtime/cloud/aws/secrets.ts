/**
 * `secrets:` on AWS: the instance reads each reference at start (SSM
 * GetParameter with decryption, Secrets Manager GetSecretValue) with its own
 * role, which the infra allows exactly these, each in its own region: an ARN's
 * region, the one `ssm:<region>:<name>` names, or the job's for `ssm:<name>`.
 * The values go into the job's environment only: never into the runtime's
 * own process.env, the status,
 * the journal or a log, and errors name the variable and the reference,
 * never a value. Throttling and transient errors are retried by the SDK.
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { JobSpec } from "../../../core/jobspec/schema";
import { parseSecretReference, referenceText, secretReferences, type SecretReference } from "../../../core/jobspec/secrets";
import { recordAwsCalls } from "./call-log";

export interface AwsSecretClients {
  /** The SSM client of the job's own region (for `ssm:<name>`). */
  ssm?: SSMClient;
  /** An SSM client for a region a reference names (`ssm:<region>:<name>`, a parameter ARN). */
  ssmIn?: (region: string) => SSMClient;
  /** A Secrets Manager client for a region (a secret is read in the region its ARN names). */
  secretsManager?: (region: string) => SecretsManagerClient;
}

/** A secret that could not be read: the message names the variable and the reference, never a value. */
export class SecretFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretFetchError";
  }
}

const REQUEST = { requestHandler: { requestTimeout: 15_000, connectionTimeout: 5_000 } };

/** How a reference is written in the spec, for messages. */
export function describeReference(r: SecretReference): string {
  return referenceText(r);
}

/** Reads every secret; resolves to {variable: value}, or throws SecretFetchError naming each one that failed. */
export async function fetchAwsSecrets(refs: readonly SecretReference[], clients: AwsSecretClients = {}): Promise<Record<string, string>> {
  // Clients made here are closed here; the caller's are the caller's.
  const created: Array<{ destroy(): void }> = [];
  const make = <T extends { destroy(): void }>(client: T): T => (created.push(client), client);
  let ssm = clients.ssm;
  const parameterClients = new Map<string, SSMClient>();
  // One client per region: a parameter is only found in its own region's endpoint.
  const parameters = (region: string | undefined): SSMClient => {
    if (region === undefined) return (ssm ??= make(recordAwsCalls(new SSMClient(REQUEST))));
    let client = parameterClients.get(region);
    if (!client) {
      client = clients.ssmIn?.(region) ?? make(recordAwsCalls(new SSMClient({ region, ...REQUEST })));
      parameterClients.set(region, client);
    }
    return client;
  };
  const managers = new Map<string, SecretsManagerClient>();
  const manager = (region: string) => {
    let client = managers.get(region);
    if (!client) {
      client = clients.secretsManager?.(region) ?? make(recordAwsCalls(new SecretsManagerClient({ region, ...REQUEST })));
      managers.set(region, client);
    }
    return client;
  };
  const env: Record<string, string> = {};
  const failures: string[] = [];
  for (const r of refs) {
    try {
      let value: string | undefined;
      if (r.kind === "ssm") {
        const out = await parameters(r.region).send(new GetParameterCommand({ Name: r.ref, WithDecryption: true }));
        value = out.Parameter?.Value;
        if (value === undefined) throw new Error("the parameter has no value");
      } else if (r.kind === "gcpsm") {
        // Spec validation refuses this on AWS; a spec that skipped it gets the reason, not a region error.
        throw new Error("a GCP Secret Manager reference is read on GCP instances only; on AWS use ssm: or a Secrets Manager ARN");
      } else {
        // arn:<partition>:secretsmanager:<region>:<account>:secret:<name>
        const out = await manager(r.region ?? r.ref.split(":")[3]).send(new GetSecretValueCommand({ SecretId: r.ref }));
        value = out.SecretString;
        if (value === undefined) throw new Error(out.SecretBinary ? "the secret is binary (SecretBinary); only a text secret (SecretString) can go into the environment" : "the secret has no value");
      }
      env[r.env] = value;
    } catch (e) {
      failures.push(`${r.env} (${describeReference(r)}): ${why(e)}`);
    }
  }
  for (const client of created) client.destroy();
  if (failures.length) throw new SecretFetchError(`cannot read ${failures.length === 1 ? "secret" : `${failures.length} secrets`} ${failures.join("; ")}`);
  return env;
}

function why(e: unknown): string {
  const err = e as Error & { $metadata?: { httpStatusCode?: number } };
  const name = err.name && err.name !== "Error" ? `${err.name}` : "";
  const message = (err.message ?? String(e)).replace(/\s+/g, " ").trim().slice(0, 300);
  const text = name && message && !message.startsWith(name) ? `${name}: ${message}` : name || message;
  return text || `HTTP ${err.$metadata?.httpStatusCode ?? "error"}`;
}

/**
 * The reader of a job's secrets, as runJob takes it (undefined: the spec has
 * none). A reference that does not parse fails the boot too: a resolved spec
 * given as JSON was not validated here.
 */
export function awsSecretsReader(spec: Pick<JobSpec, "secrets">, clients?: AwsSecretClients): (() => Promise<Record<string, string>>) | undefined {
  const entries = Object.entries(spec.secrets ?? {});
  if (entries.length === 0) return undefined;
  return async () => {
    const invalid = entries.filter(([env, text]) => !parseSecretReference(text, env).ok).map(([env]) => env);
    if (invalid.length) throw new SecretFetchError(`invalid secret reference for ${invalid.join(", ")} (check the spec with \`spotjob plan\`)`);
    return fetchAwsSecrets(secretReferences(spec), clients);
  };
}
