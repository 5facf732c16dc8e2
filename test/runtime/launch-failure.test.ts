/**
 * The launch-failure classifier, as a table over StatusMessages of failed
 * scaling activities in the formats AWS writes them (collected from public
 * reports of real groups: the vCPU quota, the spot count quota, a missing
 * AMI, a root volume smaller than the snapshot, a missing permission, and the
 * capacity messages that mean "wait").
 */
import { describe, expect, it } from "vitest";
import { classifyLaunchFailure, newestLaunch, quotasFor, STOPPING_KINDS, type LaunchContext, type LaunchFailureKind } from "../../runtime/supervisor/launch-failure";
import { failedLaunch } from "../helpers/stub-autoscaling";

const gSpot: LaunchContext = { instanceTypes: ["g4dn.xlarge", "g5.xlarge"], market: "spot", region: "us-east-1" };

const TABLE: [string, LaunchFailureKind][] = [
  // Quota: on-demand vCPU limit (VcpuLimitExceeded), the spot request limit (MaxSpotInstanceCountExceeded), the old instance-count limit.
  ["You have requested more vCPU capacity than your current vCPU limit of 0 allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit. Launching EC2 instance failed.", "quota"],
  ["Could not launch On-Demand Instances. VcpuLimitExceeded - You have requested more vCPU capacity than your current vCPU limit of 0 allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit. Launching EC2 instance failed.", "quota"],
  ["Max spot instance count exceeded. Launching EC2 instance failed.", "quota"],
  ["Could not launch Spot Instances. MaxSpotInstanceCountExceeded - Max spot instance count exceeded. Launching EC2 instance failed.", "quota"],
  ["You have requested more instances (1) than your current instance limit of 0 allows for the specified instance type. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit. Launching EC2 instance failed.", "quota"],
  // Image.
  ["The image id '[ami-0c55b159cbfafe1f0]' does not exist. Launching EC2 instance failed.", "image"],
  ["Could not launch Spot Instances. InvalidAMIID.NotFound - The image id '[ami-0c55b159cbfafe1f0]' does not exist. Launching EC2 instance failed.", "image"],
  ["Not authorized for images: [ami-08c23a10b77e0835b]. Launching EC2 instance failed.", "image"],
  ["The architecture 'x86_64' of the specified instance type does not match the architecture 'arm64' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. Launching EC2 instance failed.", "image"],
  // Disk.
  ["Could not launch Spot Instances. InvalidBlockDeviceMapping - Volume of size 22GB is smaller than  snapshot 'snap-0b5c5ea11d58e1fec', expect size >= 30GB. Launching EC2 instance failed.", "disk"],
  ["Volume of size 50GB is smaller than snapshot 'snap-047606f0d8ce8069d', expect size>= 100GB. Launching EC2 instance failed.", "disk"],
  // Permission.
  ["You are not authorized to perform this operation. Encoded authorization failure message: JUmMphVKvdVLB83WorEP2n5lOkl7LJT5E1K6lCJAxAjpvkJzdk. Launching EC2 instance failed.", "permission"],
  ["Could not launch Spot Instances. UnauthorizedOperation - You are not authorized to perform this operation. Launching EC2 instance failed.", "permission"],
  ["API: iam:PassRole User: arn:aws:sts::123456789012:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/spotjob-job-dev. Launching EC2 instance failed.", "permission"],
  ["Client.InternalError: Client error on launch. Launching EC2 instance failed.", "permission"],
  // Transient: the new instance profile is not visible to EC2 yet.
  ["Value (spotjob-job-dev) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name. Launching EC2 instance failed.", "transient"],
  // Capacity: wait, then fall back.
  ["Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.", "capacity"],
  ["We currently do not have sufficient g5.xlarge capacity in the Availability Zone you requested (us-east-1a). Our system will be working on provisioning additional capacity. You can currently get g5.xlarge capacity by not specifying an Availability Zone in your request or choosing us-east-1b, us-east-1c. Launching EC2 instance failed.", "capacity"],
  ["Could not launch Spot Instances. UnfulfillableCapacity - Unable to fulfill capacity due to your request configuration. Please adjust your request and try again. Launching EC2 instance failed.", "capacity"],
  ["Could not launch Spot Instances. InvalidFleetConfiguration - Your requested instance type (p3.8xlarge) is not supported in your requested Availability Zone (us-east-2c). Launching EC2 instance failed.", "capacity"],
  // Anything else: treated like capacity, recorded as is.
  ["Something nobody has seen before. Launching EC2 instance failed.", "unknown"],
];

describe("launch failures, classified from AWS's StatusMessage", () => {
  it.each(TABLE)("%s → %s", (message, kind) => {
    expect(classifyLaunchFailure(message, gSpot).kind).toBe(kind);
  });

  it("only quota, image, disk and permission stop the job; capacity, transient and unknown keep today's fallback", () => {
    expect([...STOPPING_KINDS].sort()).toEqual(["disk", "image", "permission", "quota"]);
  });

  it("a quota failure's fix names the quota for the group's families and market, with its code and the command", () => {
    const fix = classifyLaunchFailure("Max spot instance count exceeded. Launching EC2 instance failed.", gSpot).fix;
    expect(fix).toMatch(/"All G and VT Spot Instance Requests" \(L-3819A6DF\) in us-east-1/);
    expect(fix).toMatch(/aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-3819A6DF --desired-value <vCPUs> --region us-east-1/);
    expect(fix).toMatch(/set-desired-capacity/);
    const onDemandP = classifyLaunchFailure(TABLE[0][0], { instanceTypes: ["p5.4xlarge"], market: "on-demand" }).fix;
    expect(onDemandP).toMatch(/"Running On-Demand P instances" \(L-417A185B\)/);
    expect(quotasFor(["p5.4xlarge", "p5.48xlarge"], "spot")).toEqual([{ name: "All P5 Spot Instance Requests", code: "L-C4BD4855" }]);
    expect(quotasFor(["p4d.24xlarge"], "spot")).toEqual([{ name: "All P4, P3 and P2 Spot Instance Requests", code: "L-7212CCBC" }]);
    expect(quotasFor(["g6.xlarge", "p4d.24xlarge"], "on-demand").map((q) => q.code)).toEqual(["L-DB2E81BA", "L-417A185B"]);
  });

  it("a disk failure's fix gives the disk_size the snapshot needs", () => {
    expect(classifyLaunchFailure(TABLE[10][0], gSpot).fix).toMatch(/^set disk_size: 100 \(or more\)/);
  });

  it("reads the newest launch among a group's activities, failed or not", () => {
    const t = (m: number) => new Date(Date.UTC(2026, 11, 2, 4, m));
    const failed = failedLaunch("g", t(1), TABLE[2][0]);
    const ok = { ...failedLaunch("g", t(5), "x"), StatusCode: "Successful", StatusMessage: undefined, Description: "Launching a new EC2 instance: i-0123456789abcdef0" };
    const terminate = { ...failedLaunch("g", t(9), "x"), Description: "Terminating EC2 instance: i-0123456789abcdef0", StatusCode: "Successful" };
    expect(newestLaunch([failed])).toEqual({ at: t(1).getTime(), failed: true, activityId: failed.ActivityId, message: TABLE[2][0], failingSince: t(1).getTime() });
    // A run of failed launches: since the oldest of the run, not before the last success.
    const again = failedLaunch("g", t(7), TABLE[2][0]);
    expect(newestLaunch([again, ok, failed])).toMatchObject({ at: t(7).getTime(), failed: true, failingSince: t(7).getTime() });
    expect(newestLaunch([again, failed])).toMatchObject({ at: t(7).getTime(), failingSince: t(1).getTime() });
    expect(newestLaunch([terminate, ok, failed])).toMatchObject({ at: t(5).getTime(), failed: false });
    expect(newestLaunch([terminate])).toBeUndefined();
    // Without a StatusMessage the reason is the Description's "Status Reason".
    expect(newestLaunch([{ ...failed, StatusMessage: undefined }])!.message).toBe(TABLE[2][0]);
  });
});
