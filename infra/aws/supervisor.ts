import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { SupervisorConfig } from "../../runtime/supervisor/lambda";
import { assumeRolePolicy, supervisorPolicy, type PolicyDocument } from "./policy";

export interface JobSupervisorArgs {
  functionName: string;
  logGroupName: string;
  /** The bundled runtime (dist/runtime.cjs): the function's code, handler `runtime.handler`. */
  runtimeBundle: string;
  partition: pulumi.Input<string>;
  region: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  bucket: pulumi.Input<string>;
  prefix: string;
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
    const groupNames = [args.config.spot.name, ...(args.config.onDemand ? [args.config.onDemand.name] : [])];
    const logs = new aws.cloudwatch.LogGroup(`${name}-supervisor`, { name: args.logGroupName, retentionInDays: 30, tags: args.tags }, { parent: this });
    const role = new aws.iam.Role(`${name}-supervisor`, { assumeRolePolicy: assumeRolePolicy("lambda.amazonaws.com"), description: `spotjob supervisor for ${args.prefix}`, tags: args.tags }, { parent: this });
    this.policy = pulumi
      .all([args.partition, args.region, args.accountId, args.bucket])
      .apply(([partition, region, accountId, bucket]) => supervisorPolicy({ partition, region, accountId, bucket, prefix: args.prefix, groupNames, logGroupName: args.logGroupName }));
    const rolePolicy = new aws.iam.RolePolicy(`${name}-supervisor`, { role: role.name, policy: this.policy.apply((p) => JSON.stringify(p)) }, { parent: this });
    const environment = pulumi.output(args.bucket).apply((bucket) => {
      const config: SupervisorConfig = { store: `s3://${bucket}/${args.prefix}`, ...args.config };
      return { variables: { SPOTJOB_SUPERVISOR: JSON.stringify(config) } };
    });
    const fn = new aws.lambda.Function(
      `${name}-supervisor`,
      {
        name: args.functionName,
        role: role.arn,
        runtime: "nodejs20.x",
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
    const rule = new aws.cloudwatch.EventRule(`${name}-supervisor`, { scheduleExpression: args.schedule ?? "rate(1 minute)", description: `spotjob supervisor for ${args.prefix}`, tags: args.tags }, { parent: this });
    const permission = new aws.lambda.Permission(`${name}-supervisor`, { action: "lambda:InvokeFunction", function: fn.name, principal: "events.amazonaws.com", sourceArn: rule.arn }, { parent: this });
    new aws.cloudwatch.EventTarget(`${name}-supervisor`, { rule: rule.name, arn: fn.arn }, { parent: this, dependsOn: [permission] });
    this.functionName = fn.name;
    this.registerOutputs({ functionName: this.functionName });
  }
}
