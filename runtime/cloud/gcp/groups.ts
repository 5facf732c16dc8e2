/**
 * At the end of a job (succeeded, failed or cancelled; not interrupted) the
 * instance resizes its own managed instance groups to zero, so nothing keeps
 * billing even before the supervisor's next run: the Compute API's resize
 * (compute.ts; the Operation it answers is not waited on), authorised with the
 * instance's service-account token from the metadata server. The groups come
 * from the instance environment (SPOTJOB_GCP_GROUPS, paths
 * `projects/P/regions/R/instanceGroupManagers/N`); the job's custom role allows
 * exactly this on exactly these. SPOTJOB_COMPUTE_ENDPOINT points it elsewhere (tests).
 */
import { computeApi, ComputeApiError } from "./compute";
import { isGroupPath, parseGroupPath } from "../../../core/wire/gcp-group-path";
import { GceMetadata, metadataTokenSource } from "./metadata";

const REQUEST_TIMEOUT_MS = 15_000;

export interface ResizeOptions {
  metadata?: GceMetadata;
  endpoint?: string;
}

export async function resizeOwnGroupsToZero(groups: string[], log: (message: string) => void, o: ResizeOptions = {}): Promise<void> {
  const api = computeApi(metadataTokenSource(o.metadata ?? new GceMetadata()), {
    endpoint: o.endpoint,
    timeoutMs: REQUEST_TIMEOUT_MS,
    fix: (status) => (status === 403 ? "the instance's service account needs compute.instanceGroupManagers.update on the group (the job's custom role)" : undefined),
  });
  for (const group of groups) {
    try {
      if (!isGroupPath(group)) throw new Error("not a managed instance group path (projects/P/regions/R/instanceGroupManagers/N)");
      const path = parseGroupPath(group);
      await api.resize(path, 0);
      log(`resized managed instance group ${path.name} to zero: this job is over`);
    } catch (e) {
      // The line already says what was tried; the supervisor resizes it on its next run: say so rather than fail the job's result.
      log(`could not resize ${group} to zero (${e instanceof ComputeApiError ? e.detail : (e as Error).message}); the supervisor will`);
    }
  }
}
