import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { assumeRolePolicy, instancePolicy, type JobScope, type PolicyDocument } from "./policy";

export interface JobIdentityArgs {
  /** The job's bucket, prefix and groups, in its account and region: all the role may touch. */
  scope: pulumi.Input<JobScope>;
  /** SSM parameter names and Secrets Manager ARNs the spec references: the only secrets it may read. */
  secrets: string[];
  tags?: Record<string, string>;
}

/** The instance's identity: a role allowed exactly what the runtime does (see `instancePolicy`), and its profile. */
export class JobIdentity extends pulumi.ComponentResource {
  readonly instanceProfileArn: pulumi.Output<string>;
  readonly roleName: pulumi.Output<string>;
  readonly policy: pulumi.Output<PolicyDocument>;
  /** The role's policy, attached: instances must not boot before it. */
  readonly rolePolicy: aws.iam.RolePolicy;

  constructor(name: string, args: JobIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:aws:JobIdentity", name, {}, opts);
    const scope = pulumi.output(args.scope);
    const role = new aws.iam.Role(`${name}-instance`, { assumeRolePolicy: assumeRolePolicy("ec2.amazonaws.com"), description: pulumi.interpolate`spotjob instance role for ${scope.prefix}`, tags: args.tags }, { parent: this });
    this.policy = scope.apply((s) => instancePolicy({ ...s, secrets: args.secrets }));
    this.rolePolicy = new aws.iam.RolePolicy(`${name}-instance`, { role: role.name, policy: this.policy.apply((p) => JSON.stringify(p)) }, { parent: this });
    const profile = new aws.iam.InstanceProfile(`${name}-instance`, { role: role.name, tags: args.tags }, { parent: this });
    this.instanceProfileArn = profile.arn;
    this.roleName = role.name;
    this.registerOutputs({ instanceProfileArn: this.instanceProfileArn, roleName: this.roleName });
  }
}
