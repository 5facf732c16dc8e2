import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface JobNetworkArgs {
  /**
   * Subnets to launch in. Default: the default VPC's default subnet in every
   * zone of the region (or of `zones`), so spot capacity can come from any.
   */
  subnetIds?: string[];
  /** Limit the default subnets to these availability zones (the spec's `zones`). */
  zones?: string[];
  /** Opt-in SSH (the spec's `ssh`): the key to install and who may connect. Without it nothing may connect. */
  ssh?: { publicKey: string; cidrs: string[] };
  tags?: Record<string, string>;
}

/** Where the instance runs and who may reach it: nobody, unless SSH is asked for. */
export class JobNetwork extends pulumi.ComponentResource {
  readonly subnetIds: pulumi.Output<string[]>;
  readonly securityGroupId: pulumi.Output<string>;
  readonly keyName: pulumi.Output<string | undefined>;

  constructor(name: string, args: JobNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:aws:JobNetwork", name, {}, opts);
    let vpcId: pulumi.Output<string>;
    if (args.subnetIds?.length) {
      this.subnetIds = pulumi.output(args.subnetIds);
      vpcId = aws.ec2.getSubnetOutput({ id: args.subnetIds[0] }, { parent: this }).vpcId;
    } else {
      vpcId = aws.ec2.getVpcOutput({ default: true }, { parent: this }).id;
      const filters = [
        { name: "vpc-id", values: [vpcId] },
        { name: "default-for-az", values: ["true"] },
        ...(args.zones?.length ? [{ name: "availability-zone", values: args.zones }] : []),
      ];
      this.subnetIds = aws.ec2.getSubnetsOutput({ filters }, { parent: this }).ids.apply((ids) => {
        if (!ids.length) throw new Error(`spotjob: no default subnet found${args.zones?.length ? ` in ${args.zones.join(", ")}` : ""}: create a default VPC (aws ec2 create-default-vpc) or pick zones that have one`);
        return [...ids].sort();
      });
    }
    const group = new aws.ec2.SecurityGroup(
      name,
      {
        vpcId,
        description: args.ssh ? "spotjob: SSH from the listed CIDRs only; all egress" : "spotjob: no inbound access; all egress (bucket, package mirrors)",
        ingress: args.ssh ? [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: args.ssh.cidrs, description: "SSH (spec: ssh.cidrs)" }] : [],
        egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] }],
        tags: args.tags,
      },
      { parent: this },
    );
    this.securityGroupId = group.id;
    this.keyName = args.ssh ? new aws.ec2.KeyPair(name, { publicKey: args.ssh.publicKey, tags: args.tags }, { parent: this }).keyName : pulumi.output(undefined);
    this.registerOutputs({ subnetIds: this.subnetIds, securityGroupId: this.securityGroupId });
  }
}
