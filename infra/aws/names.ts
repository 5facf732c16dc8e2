/**
 * Names of the job's AWS resources that other resources must know before
 * they exist (the groups in the instance policy and the user data, the
 * function in its log group): derived from the job and the stack, so two
 * stacks of one job never collide.
 */
import { createHash } from "node:crypto";

export interface AwsNames {
  /** Key prefix of the job's objects in the bucket (the store is s3://bucket/prefix). */
  prefix: string;
  spotGroup: string;
  onDemandGroup: string;
  supervisorFunction: string;
  supervisorLogGroup: string;
}

const LAMBDA_NAME_MAX = 64;

export function awsNames(jobName: string, stack: string): AwsNames {
  const suffix = createHash("sha256").update(`${stack}\n${jobName}`).digest("hex").slice(0, 6);
  const base = `spotjob-${jobName}-${suffix}`;
  const fn = `${base}-supervisor`.length <= LAMBDA_NAME_MAX ? `${base}-supervisor` : `spotjob-${jobName.slice(0, LAMBDA_NAME_MAX - 26)}-${suffix}-supervisor`;
  return { prefix: `jobs/${jobName}`, spotGroup: `${base}-spot`, onDemandGroup: `${base}-ondemand`, supervisorFunction: fn, supervisorLogGroup: `/aws/lambda/${fn}` };
}
