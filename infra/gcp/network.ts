import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface JobNetworkArgs {
  project: pulumi.Input<string>;
  region: string;
  /** The tag on the job's VMs (names.ts): what the rules below apply to. */
  networkTag: string;
  /** `spotjob:subnets`: a subnetwork (name in the job's region, or self link) instead of the default network. */
  subnetwork?: string;
  /** Opt-in SSH (the spec's `ssh`): who may connect. Without it nothing may. */
  ssh?: { cidrs: string[] };
}

/** Priority of the rule that refuses every inbound connection to the job's VMs: before the default network's own rules (65534). */
export const DENY_INGRESS_PRIORITY = 1000;
/** Priority of the SSH rule, when asked for: before the refusal. */
export const SSH_PRIORITY = 900;

/**
 * Where the job's VMs run and who may reach them: nobody, unless SSH is
 * asked for. The default network comes with `default-allow-ssh` (tcp:22 from
 * 0.0.0.0/0 to every VM; https://cloud.google.com/vpc/docs/firewalls#more_rules_default_vpc),
 * so no rule of ours is not enough: a rule at a higher priority refuses all
 * inbound traffic to the job's tag, and with `ssh` one above it lets the
 * listed CIDRs reach port 22. Outbound traffic (the bucket, package mirrors)
 * is open, as GCP's implied egress rule leaves it.
 */
export class JobNetwork extends pulumi.ComponentResource {
  /** The network (self link or name) and subnetwork of the VMs' interface. */
  readonly network: pulumi.Output<string>;
  readonly subnetwork: pulumi.Output<string | undefined>;

  constructor(name: string, args: JobNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:gcp:JobNetwork", name, {}, opts);
    if (args.subnetwork) {
      const lookup = args.subnetwork.includes("/") ? { selfLink: args.subnetwork } : { name: args.subnetwork, region: args.region, project: args.project };
      const found = gcp.compute.getSubnetworkOutput(lookup, { parent: this });
      this.network = found.network;
      this.subnetwork = found.selfLink;
    } else {
      this.network = pulumi.output("default");
      this.subnetwork = pulumi.output(undefined);
    }
    new gcp.compute.Firewall(
      `${name}-deny-ingress`,
      {
        project: args.project,
        network: this.network,
        description: "spotjob: no inbound access to the job's VMs (outbound stays open)",
        direction: "INGRESS",
        priority: DENY_INGRESS_PRIORITY,
        denies: [{ protocol: "all" }],
        sourceRanges: ["0.0.0.0/0"],
        targetTags: [args.networkTag],
      },
      { parent: this },
    );
    if (args.ssh) {
      new gcp.compute.Firewall(
        `${name}-ssh`,
        {
          project: args.project,
          network: this.network,
          description: "spotjob: SSH from the spec's ssh.cidrs only",
          direction: "INGRESS",
          priority: SSH_PRIORITY,
          allows: [{ protocol: "tcp", ports: ["22"] }],
          sourceRanges: args.ssh.cidrs,
          targetTags: [args.networkTag],
        },
        { parent: this },
      );
    }
    this.registerOutputs({ network: this.network, subnetwork: this.subnetwork });
  }
}
