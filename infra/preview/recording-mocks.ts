/**
 * Runs the real Pulumi program with no engine and no credentials: every
 * resource it registers is recorded (type, name, inputs) and answered with
 * plausible outputs, and the few data sources it reads answer from a fixed,
 * obviously fake account. `spotjob plan --resources` shows what `pulumi up`
 * would create this way; the infrastructure tests assert on the same record.
 */
import * as pulumi from "@pulumi/pulumi";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

export const FAKE_ACCOUNT = "123456789012";

/** An AMI as the mocks describe it: its root device and the size (GB) of that device's snapshot. */
export interface MockImage {
  rootDeviceName: string;
  snapshotGb: number;
}

/** The image every `resolve:ssm:` parameter resolves to under the mocks (an obviously fake id). */
export const MOCK_SSM_IMAGE = "ami-0mockssm00000000";

/** Images `aws.ec2.getAmi` knows under the mocks, by id; tests add their own (`mockImages.set(...)`). */
export const mockImages = new Map<string, MockImage>([[MOCK_SSM_IMAGE, { rootDeviceName: "/dev/sda1", snapshotGb: 20 }]]);

/** The GCP project the recording mocks run in when the stack names none (an obviously fake one). */
export const FAKE_GCP_PROJECT = "spotjob-preview-000000";

/** Sizes (GB) of the GCP images `gcp.compute.getImage` knows under the mocks, by family or name; any other is 10 GB. */
export const mockGcpImages = new Map<string, number>([["common-cu129-ubuntu-2404-nvidia-580", 50]]);

/**
 * GPU quotas the Cloud Quotas API answers under the mocks, by quota id (as `cloudquota.getSQuotaInfo` returns
 * them); a quota not here cannot be read (no credentials), which preview logs and goes past.
 */
export const mockGcpQuotas = new Map<string, { dimensionsInfos: { applicableLocations: string[]; details: { value: string }[]; dimensions: Record<string, string> }[] }>();

/** Existing buckets (`spotjob:bucket`) that do not have uniform bucket-level access under the mocks; every other one has. */
export const mockGcpBucketsWithoutUbla = new Set<string>();

function imageIdOf(inputs: Record<string, unknown>): string | undefined {
  const filters = (inputs.filters ?? []) as { name: string; values: string[] }[];
  return filters.find((f) => f.name === "image-id")?.values[0];
}

/** What the data sources the program reads answer under the mocks. */
function answerCall(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (token) {
    case "aws:index/getPartition:getPartition":
      return { partition: "aws", dnsSuffix: "amazonaws.com" };
    case "aws:index/getRegion:getRegion":
      return { region: "us-east-1", name: "us-east-1" };
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return { accountId: FAKE_ACCOUNT, arn: `arn:aws:iam::${FAKE_ACCOUNT}:user/preview`, userId: "PREVIEW" };
    case "aws:ec2/getVpc:getVpc":
      return { id: "vpc-default", cidrBlock: "172.31.0.0/16" };
    case "aws:ec2/getSubnet:getSubnet":
      return { id: inputs.id, vpcId: "vpc-default" };
    case "aws:ec2/getSubnets:getSubnets":
      return { ids: ["subnet-default-b", "subnet-default-a"] };
    case "aws:s3/getBucket:getBucket":
      // A reused bucket is wherever it is looked for (the job's region): tests of other regions answer for themselves.
      return { bucket: inputs.bucket, arn: `arn:aws:s3:::${String(inputs.bucket)}`, bucketRegion: typeof inputs.region === "string" ? inputs.region : "us-east-1" };
    case "aws:ssm/getParameter:getParameter":
      return { id: inputs.name, name: inputs.name, type: "String", value: MOCK_SSM_IMAGE, insecureValue: MOCK_SSM_IMAGE };
    case "aws:ec2/getAmi:getAmi": {
      const id = imageIdOf(inputs) ?? MOCK_SSM_IMAGE;
      // Any other id (a `spotjob:ami` under `spotjob plan --resources`) is a plain image: nothing is known about it offline.
      const image = mockImages.get(id) ?? { rootDeviceName: "/dev/sda1", snapshotGb: 8 };
      return {
        id,
        imageId: id,
        rootDeviceName: image.rootDeviceName,
        rootDeviceType: "ebs",
        blockDeviceMappings: [{ deviceName: image.rootDeviceName, ebs: { volume_size: String(image.snapshotGb), volume_type: "gp3", snapshot_id: `snap-${id}`, delete_on_termination: "true", encrypted: "false" } }],
      };
    }
    case "gcp:organizations/getClientConfig:getClientConfig":
      return { id: "client-config", project: FAKE_GCP_PROJECT, region: "us-central1", zone: "us-central1-a", accessToken: "", defaultLabels: {} };
    case "gcp:compute/getImage:getImage": {
      const project = String(inputs.project ?? FAKE_GCP_PROJECT);
      const which = String(inputs.family ?? inputs.name);
      const name = inputs.family ? `${which}-v20261124` : which;
      return { id: name, name, family: inputs.family ?? "", project, selfLink: `https://www.googleapis.com/compute/v1/projects/${project}/global/images/${name}`, diskSizeGb: mockGcpImages.get(which) ?? 10 };
    }
    case "gcp:compute/getZones:getZones": {
      const region = String(inputs.region ?? "us-central1");
      const letters = region === "us-central1" ? ["a", "b", "c", "f"] : region === "us-east1" ? ["b", "c", "d"] : ["a", "b", "c"];
      return { id: region, project: inputs.project ?? FAKE_GCP_PROJECT, region, names: letters.map((l) => `${region}-${l}`) };
    }
    case "gcp:storage/getBucket:getBucket":
      return { id: inputs.name, name: inputs.name, location: "US-CENTRAL1", uniformBucketLevelAccess: !mockGcpBucketsWithoutUbla.has(String(inputs.name)) };
    case "gcp:compute/getSubnetwork:getSubnetwork": {
      const name = String(inputs.name ?? String(inputs.selfLink).split("/").pop());
      const region = String(inputs.region ?? "us-central1");
      const project = String(inputs.project ?? FAKE_GCP_PROJECT);
      return {
        id: name,
        name,
        region,
        selfLink: inputs.selfLink ?? `https://www.googleapis.com/compute/v1/projects/${project}/regions/${region}/subnetworks/${name}`,
        network: `https://www.googleapis.com/compute/v1/projects/${project}/global/networks/spotjob-mock-vpc`,
      };
    }
    case "gcp:cloudquota/getSQuotaInfo:getSQuotaInfo": {
      const quota = mockGcpQuotas.get(String(inputs.quotaId));
      if (!quota) throw new Error(`no quota ${String(inputs.quotaId)} under the recording mocks`);
      return { ...inputs, ...quota };
    }
    case "aws:ec2/getSpotPrice:getSpotPrice":
      // No credentials, no market: the program falls back to the catalog's price.
      throw new Error("no live prices under the recording mocks");
    default:
      return inputs;
  }
}

/** Outputs a resource would have after creation, made from its inputs. */
function answerResource(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const state: Record<string, unknown> = { ...inputs, arn: `arn:aws:mock:::${type}/${name}` };
  if (type === "aws:s3/bucket:Bucket") {
    state.bucket = `${String(inputs.bucketPrefix ?? "bucket-")}20261124mock`;
    state.arn = `arn:aws:s3:::${String(state.bucket)}`;
  }
  const project = String(inputs.project ?? FAKE_GCP_PROJECT);
  switch (type) {
    case "gcp:storage/bucket:Bucket":
      // GCP appends a random suffix to the resource's name.
      state.name = `${name}-20261124mock`;
      break;
    case "gcp:serviceaccount/account:Account":
      state.email = `${String(inputs.accountId)}@${project}.iam.gserviceaccount.com`;
      state.name = `projects/${project}/serviceAccounts/${String(state.email)}`;
      break;
    case "gcp:projects/iAMCustomRole:IAMCustomRole":
      state.name = `projects/${project}/roles/${String(inputs.roleId)}`;
      break;
    case "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate":
      state.selfLink = `https://www.googleapis.com/compute/v1/projects/${project}/regions/${String(inputs.region)}/instanceTemplates/${name}-mock`;
      break;
  }
  state.name ??= name;
  if (type === "command:local:Command") state.stdout = "";
  return state;
}

export function recordingMocks(record: (r: RecordedResource) => void): pulumi.runtime.Mocks {
  return {
    newResource: (args) => {
      record({ type: args.type, name: args.name, inputs: args.inputs });
      return { id: `${args.name}-id`, state: answerResource(args.type, args.name, args.inputs) };
    },
    call: (args) => answerCall(args.token, args.inputs),
  };
}

/** Resolves once `value` (any output) has resolved; with the mocks above every output does. */
export function settled<T>(value: pulumi.Input<T>): Promise<T> {
  return new Promise((done) => {
    pulumi.output(value).apply((v) => {
      done(v as T);
      return v;
    });
  });
}

/** Sets the stack's `spotjob:*` config as `pulumi config set` would (before the program is loaded). */
export function setSpotjobConfig(config: Record<string, string>): void {
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([key, value]) => [`spotjob:${key}`, value])));
}
