import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { formatObjectStoreUrl } from "../../core/wire/store-url";
import { formatSupervisorConfig, SUPERVISOR_ENV, type SupervisorConfig } from "../../core/wire/supervisor-config";
import { runtimeStanding, SUPERVISOR_RUNTIME } from "./lambda-runtimes";
import { assumeRolePolicy, supervisorPolicy, type JobScope, type PolicyDocument } from "./policy";

export interface JobSupervisorArgs {
  functionName: string;
  logGroupName: string;
  /** The bundled runtime (dist/runtime.cjs): the function's code, handler `runtime.handler`. */
  runtimeBundle: string;
  /** The job's bucket, prefix and groups, in its account and region: all the function may touch. */
  scope: pulumi.Input<JobScope>;
  /** What it supervises and under which limits (everything but the store URL, which comes from the bucket). */
  config: Omit<SupervisorConfig, "store">;
  /** How often it runs. Default every minute. */
  schedule?: string;
  tags?: Record<string, string>;
}

/**
 * The supervisor: a function run on a schedule that enforces what an instance
 * cannot enforce on itself (the fallback, the runtime cap and budget even
 * when the job hangs, zero instances after the end). It has its own role,
 * allowed only the job's status and records and the job's own groups; it
 * needs no long-lived credentials, so nothing expires under it.
 */
export class JobSupervisor extends pulumi.ComponentResource {
  readonly functionName: pulumi.Output<string>;
  readonly policy: pulumi.Output<PolicyDocument>;

  constructor(name: string, args: JobSupervisorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:aws:JobSupervisor", name, {}, opts);
    const scope = pulumi.output(args.scope);
    const logs = new aws.cloudwatch.LogGroup(`${name}-supervisor`, { name: args.logGroupName, retentionInDays: 30, tags: args.tags }, { parent: this });
    const role = new aws.iam.Role(`${name}-supervisor`, { assumeRolePolicy: assumeRolePolicy("lambda.amazonaws.com"), description: pulumi.interpolate`spotjob supervisor for ${scope.prefix}`, tags: args.tags }, { parent: this });
    this.policy = scope.apply((s) => supervisorPolicy({ ...s, logGroupName: args.logGroupName }));
    const rolePolicy = new aws.iam.RolePolicy(`${name}-supervisor`, { role: role.name, policy: this.policy.apply((p) => JSON.stringify(p)) }, { parent: this });
    const environment = scope.apply(({ bucket, prefix }) => {
      const config: SupervisorConfig = { store: formatObjectStoreUrl("s3", bucket, prefix), ...args.config };
      return { variables: { [SUPERVISOR_ENV]: formatSupervisorConfig(config) } };
    });
    // The runtime's deprecation dates are data (lambda-runtimes.json): say so at preview well before AWS blocks updates.
    const standing = runtimeStanding(SUPERVISOR_RUNTIME, new Date().toISOString().slice(0, 10), 90);
    if (standing.state !== "supported") pulumi.log.warn(`spotjob: the supervisor's runtime: ${standing.message}; upgrade spotjob`, this);
    const fn = new aws.lambda.Function(
      `${name}-supervisor`,
      {
        name: args.functionName,
        role: role.arn,
        runtime: SUPERVISOR_RUNTIME,
        handler: "runtime.handler",
        code: new pulumi.asset.AssetArchive({ "runtime.cjs": new pulumi.asset.FileAsset(args.runtimeBundle) }),
        timeout: 50,
        memorySize: 256,
        environment,
        loggingConfig: { logFormat: "Text", logGroup: logs.name },
        tags: args.tags,
      },
      { parent: this, dependsOn: [rolePolicy, logs] },
    );
    const rule = new aws.cloudwatch.EventRule(`${name}-supervisor`, { scheduleExpression: args.schedule ?? "rate(1 minute)", description: pulumi.interpolate`spotjob supervisor for ${scope.prefix}`, tags: args.tags }, { parent: this });
    const permission = new aws.lambda.Permission(`${name}-supervisor`, { action: "lambda:InvokeFunction", function: fn.name, principal: "events.amazonaws.com", sourceArn: rule.arn }, { parent: this });
    new aws.cloudwatch.EventTarget(`${name}-supervisor`, { rule: rule.name, arn: fn.arn }, { parent: this, dependsOn: [permission] });
    this.functionName = fn.name;
    this.registerOutputs({ functionName: this.functionName });
  }
}
