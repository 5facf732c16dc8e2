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
