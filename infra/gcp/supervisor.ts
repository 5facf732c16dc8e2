import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { formatSupervisorConfig, SUPERVISOR_ENV, type SupervisorConfig } from "../../core/wire/supervisor-config";
import { CLOUD_PLATFORM_SCOPE } from "./capacity";
import { RUNTIME_BUCKET_ENV, RUNTIME_OBJECT_ENV, SUPERVISOR_BOOT, SUPERVISOR_IMAGE } from "./supervisor-boot";

export interface JobSupervisorArgs {
  project: pulumi.Input<string>;
  region: string;
  /** The Cloud Run job's and the Cloud Scheduler job's name (names.ts). */
  jobName: string;
  /** Its own service account (policy.ts `supervisorGrants`), and the member the run grant names. */
  serviceAccountEmail: pulumi.Input<string>;
  member: pulumi.Input<string>;
  /** Where the runtime bundle is: the supervisor runs the VM's own runtime. */
  bucket: pulumi.Input<string>;
  runtimeKey: pulumi.Input<string>;
  /** What it supervises, under which limits (SPOTJOB_SUPERVISOR). */
  config: pulumi.Input<SupervisorConfig>;
  /** How often it runs, as cron. Default every minute. */
  schedule?: string;
  labels?: Record<string, string>;
}

/** Every run ends well within the minute between two (the AWS function's limit is 50 s too). */
const RUN_TIMEOUT = "50s";

/**
 * The supervisor on GCP: Cloud Scheduler runs a Cloud Run job every minute
 * (https://cloud.google.com/run/docs/execute/jobs-on-schedule), which runs
 * the runtime bundle's `supervise` with the same pure decide() as the AWS
 * function. It enforces what a VM cannot enforce on itself (the fallback,
 * the runtime cap and budget even when the job hangs, zero VMs after the
 * end). It runs as its own service account, which is also the one Cloud
 * Scheduler calls the run API as: allowed to run this job (roles/run.invoker
 * on the job, the documented grant) and nothing else beyond supervisorGrants.
 */
export class JobSupervisor extends pulumi.ComponentResource {
  /** The Cloud Run job's name. */
  readonly jobName: pulumi.Output<string>;

  constructor(name: string, args: JobSupervisorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:gcp:JobSupervisor", name, {}, opts);
    const job = new gcp.cloudrunv2.Job(
      `${name}-supervisor`,
      {
        project: args.project,
        location: args.region,
        name: args.jobName,
        // The stack owns it: `pulumi destroy` must be able to delete it.
        deletionProtection: false,
        labels: args.labels,
        template: {
          taskCount: 1,
          parallelism: 1,
          template: {
            serviceAccount: args.serviceAccountEmail,
            // The next minute's run is the retry.
            maxRetries: 0,
            timeout: RUN_TIMEOUT,
            containers: [
              {
                image: SUPERVISOR_IMAGE,
                commands: ["node"],
                args: ["-e", SUPERVISOR_BOOT],
                envs: [
                  { name: SUPERVISOR_ENV, value: pulumi.output(args.config).apply((c) => formatSupervisorConfig(c)) },
                  { name: RUNTIME_BUCKET_ENV, value: args.bucket },
                  { name: RUNTIME_OBJECT_ENV, value: args.runtimeKey },
                ],
                resources: { limits: { cpu: "1", memory: "512Mi" } },
              },
            ],
          },
        },
      },
      { parent: this },
    );
    const invoker = new gcp.cloudrunv2.JobIamMember(
      `${name}-supervisor-run`,
      { project: args.project, location: args.region, name: job.name, role: "roles/run.invoker", member: args.member },
      { parent: this },
    );
    new gcp.cloudscheduler.Job(
      `${name}-supervisor`,
      {
        project: args.project,
        region: args.region,
        name: args.jobName,
        description: `spotjob supervisor for ${args.jobName}`,
        schedule: args.schedule ?? "* * * * *",
        timeZone: "Etc/UTC",
        // One call that starts the run; the next minute is its retry.
        retryConfig: { retryCount: 0 },
        httpTarget: {
          httpMethod: "POST",
          // Cloud Run Admin API v2, jobs.run (https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.jobs/run).
          uri: pulumi.interpolate`https://run.googleapis.com/v2/projects/${args.project}/locations/${args.region}/jobs/${job.name}:run`,
          oauthToken: { serviceAccountEmail: args.serviceAccountEmail, scope: CLOUD_PLATFORM_SCOPE },
        },
      },
      { parent: this, dependsOn: [invoker] },
    );
    this.jobName = job.name;
    this.registerOutputs({ jobName: this.jobName });
  }
}
