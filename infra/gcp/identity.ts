import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { GROUP_ROLE_PERMISSIONS, type GcpGrant, type GcpScope } from "./policy";

/** What is known of the scope before `up`: everything but the project, the bucket's name and the role's. */
export type KnownScope = Omit<GcpScope, "project" | "bucket" | "groupRole">;
/** What is not: the provider's project, a new bucket's generated name, the custom role's full name. */
export type LateScope = Pick<GcpScope, "project" | "bucket" | "groupRole">;

export interface JobServiceAccountArgs {
  /** The account's id (the part of its e-mail before `@`): 6 to 30 characters (names.ts). */
  accountId: string;
  displayName: string;
  project: pulumi.Input<string>;
  /** The job's region, prefix and groups. */
  known: KnownScope;
  /** Its project, bucket and group role. */
  late: pulumi.Input<LateScope>;
  /** What the account may do there (policy.ts). */
  grants: (scope: GcpScope) => GcpGrant[];
}

/** Stand-ins for the late values: which bindings there are depends only on what is known, and they take their values from the real scope. */
const LAYOUT: LateScope = { project: "layout-project", bucket: "layout-bucket", groupRole: "projects/layout-project/roles/layout" };

/**
 * A service account and its grants, each bound where policy.ts says: on the
 * bucket (with its condition), on one secret, or on the project with a
 * condition. Nothing else is granted to it.
 */
export class JobServiceAccount extends pulumi.ComponentResource {
  readonly email: pulumi.Output<string>;
  readonly member: pulumi.Output<string>;
  readonly grants: pulumi.Output<GcpGrant[]>;
  /** The bindings: what must exist before anything runs as the account. */
  readonly bindings: pulumi.Resource[];

  constructor(name: string, args: JobServiceAccountArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:gcp:JobServiceAccount", name, {}, opts);
    const account = new gcp.serviceaccount.Account(name, { accountId: args.accountId, displayName: args.displayName, project: args.project }, { parent: this });
    this.email = account.email;
    this.member = pulumi.interpolate`serviceAccount:${account.email}`;
    const layout = args.grants({ ...args.known, ...LAYOUT });
    this.grants = pulumi.output(args.late).apply((late) => {
      const grants = args.grants({ ...args.known, ...late });
      // Only a secret named both by its id and by a full name in the job's project can make them differ.
      if (grants.map((g) => g.id).join() !== layout.map((g) => g.id).join()) {
        throw new pulumi.RunError(`spotjob: ${args.accountId}'s grants depend on the project's name (${late.project}): write each \`gcpsm:\` secret one way in the spec`);
      }
      return grants;
    });
    this.bindings = layout.map((shape, i) => {
      const grant = this.grants.apply((grants) => grants[i]);
      const inputs = { role: grant.role, member: this.member, condition: grant.apply((g) => g.condition) };
      const target = grant.apply((g) => g.target);
      const named = <K extends string>(kind: GcpGrant["target"]["kind"], key: K) => target.apply((t) => (t.kind === kind ? (t as unknown as Record<K, string>)[key] : ""));
      const options = { parent: this };
      switch (shape.target.kind) {
        case "bucket":
          return new gcp.storage.BucketIAMMember(`${name}-${shape.id}`, { ...inputs, bucket: named("bucket", "bucket") }, options);
        case "secret":
          return new gcp.secretmanager.SecretIamMember(`${name}-${shape.id}`, { ...inputs, secretId: named("secret", "secret") }, options);
        case "project":
          return new gcp.projects.IAMMember(`${name}-${shape.id}`, { ...inputs, project: named("project", "project") }, options);
      }
    });
    this.registerOutputs({ email: this.email });
  }
}

export interface JobGroupRoleArgs {
  /** The role's id (names.ts). */
  roleId: string;
  project: pulumi.Input<string>;
}

/**
 * The custom role the job's identities hold on its groups only (each binding
 * carries the condition naming them). A deleted custom role keeps its id for
 * a while; the provider undeletes it when a later stack asks for the same one.
 */
export class JobGroupRole extends pulumi.ComponentResource {
  /** `projects/P/roles/ID`. */
  readonly roleName: pulumi.Output<string>;

  constructor(name: string, args: JobGroupRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:gcp:JobGroupRole", name, {}, opts);
    const role = new gcp.projects.IAMCustomRole(
      name,
      {
        project: args.project,
        roleId: args.roleId,
        title: `spotjob: resize ${args.roleId}`,
        description: "Read and resize a spotjob job's managed instance groups (bound with a condition naming them)",
        permissions: [...GROUP_ROLE_PERMISSIONS],
        stage: "GA",
      },
      { parent: this },
    );
    this.roleName = role.name;
    this.registerOutputs({ roleName: this.roleName });
  }
}
