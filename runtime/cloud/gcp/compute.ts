/**
 * The Compute Engine REST calls spotjob makes on a managed instance group, with
 * fetch and a bearer token (no SDK), and the parts of their answers it reads:
 * the instance's end-of-job resize to zero (groups.ts) and the supervisor's
 * capacity control (runtime/supervisor/gcp/capacity.ts). Shapes from the v1 reference:
 *
 *   GET  compute/v1/projects/P/regions/R/instanceGroupManagers/N
 *        -> InstanceGroupManager { name, targetSize, currentActions {none, creating, creatingWithoutRetries,
 *           recreating, deleting, abandoning, ...}, status {isStable}, instanceFlexibilityPolicy
 *           {instanceSelections {<name>: {machineTypes[], rank}}} }
 *        https://cloud.google.com/compute/docs/reference/rest/v1/regionInstanceGroupManagers/get
 *        https://cloud.google.com/compute/docs/reference/rest/v1/regionInstanceGroupManagers#InstanceGroupManager
 *   POST .../instanceGroupManagers/N/listManagedInstances[?maxResults=&pageToken=]
 *        -> { managedInstances: [ManagedInstance], nextPageToken? }; ManagedInstance { instance, name,
 *           instanceStatus (PROVISIONING, STAGING, RUNNING, STOPPING, ...; absent while the VM does not exist),
 *           currentAction (NONE, CREATING, CREATING_WITHOUT_RETRIES, RECREATING, DELETING, ABANDONING, ...),
 *           instanceHealth [{detailedHealthState}], lastAttempt { errors { errors: [{code, location?, message}] } } }
 *        https://cloud.google.com/compute/docs/reference/rest/v1/regionInstanceGroupManagers/listManagedInstances
 *   POST .../instanceGroupManagers/N/resize?size=K -> Operation { status, error? { errors: [{code, message}] } }
 *        (DONE once the creations or deletions are scheduled, before they happen; not waited on)
 *        https://cloud.google.com/compute/docs/reference/rest/v1/regionInstanceGroupManagers/resize
 *
 * The same paths under zones/Z are the zonal group's (instanceGroupManagers/*).
 * A refusal is formatted by api-error.ts. SPOTJOB_COMPUTE_ENDPOINT replaces
 * https://compute.googleapis.com (tests).
 */
import { CloudApiError } from "../api-error";
import { apiError, describeFetchError } from "./api-error";
import type { GroupPath } from "../../../core/wire/gcp-group-path";
import type { TokenSource } from "./metadata";

export const COMPUTE_ENDPOINT_ENV = "SPOTJOB_COMPUTE_ENDPOINT";
const DEFAULT_ENDPOINT = "https://compute.googleapis.com";

export interface ComputeError {
  code: string;
  message?: string;
  location?: string;
}

export interface InstanceGroupManager {
  name?: string;
  targetSize?: number;
  currentActions?: Record<string, number | undefined>;
  status?: { isStable?: boolean };
  instanceFlexibilityPolicy?: { instanceSelections?: Record<string, { machineTypes?: string[]; rank?: number }> };
}

export interface ManagedInstance {
  instance?: string;
  name?: string;
  instanceStatus?: string;
  currentAction?: string;
  instanceHealth?: { detailedHealthState?: string }[];
  lastAttempt?: { errors?: { errors?: ComputeError[] } };
}

export interface ComputeApi {
  getGroup(group: GroupPath): Promise<InstanceGroupManager>;
  listManagedInstances(group: GroupPath): Promise<ManagedInstance[]>;
  resize(group: GroupPath, size: number): Promise<void>;
}

/** A Compute API call that failed: HTTP status (0: no answer or no token), what was being done, what failed and what to do. */
export class ComputeApiError extends CloudApiError {
  constructor(
    readonly status: number,
    message: string,
    /** What failed, without what was being done: for a caller that says that itself. */
    readonly detail = message,
  ) {
    super(message);
    this.name = "ComputeApiError";
  }
}

export interface ComputeApiOptions {
  /** The API's root; SPOTJOB_COMPUTE_ENDPOINT in `env` when not given, else https://compute.googleapis.com. */
  endpoint?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** What the caller's account should do about a failed call (its HTTP status; 0 for no answer), when it knows. */
  fix?: (status: number, group: GroupPath) => string | undefined;
}

/** Most pages read from listManagedInstances (a job's group holds at most one instance; this only bounds a runaway answer). */
const MAX_PAGES = 20;

export function computeApi(token: TokenSource, o: ComputeApiOptions = {}): ComputeApi {
  const root = (o.endpoint ?? ((o.env ?? process.env)[COMPUTE_ENDPOINT_ENV] || DEFAULT_ENDPOINT)).replace(/\/+$/, "");
  const timeoutMs = o.timeoutMs ?? 30_000;
  const call = async <T>(method: "GET" | "POST", group: GroupPath, suffix: string, action: string): Promise<T> => {
    const url = `${root}/compute/v1/${group.path}${suffix}`;
    let bearer: string;
    try {
      bearer = await token();
    } catch (e) {
      throw new ComputeApiError(0, `no access token to ${action}: ${(e as Error).message}`, (e as Error).message);
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers: { authorization: `Bearer ${bearer}` }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      const why = `${url}: ${describeFetchError(e)}`;
      const fix = o.fix?.(0, group);
      const then = fix ? `; ${fix}` : "";
      throw new ComputeApiError(0, `Compute Engine API unreachable while trying to ${action} (${why})${then}`, `Compute Engine API unreachable (${why})${then}`);
    }
    if (!response.ok) {
      const detail = await apiError(response, (status) => o.fix?.(status, group));
      throw new ComputeApiError(response.status, `Compute Engine API refused to ${action}: ${detail}`, detail);
    }
    const text = await response.text();
    return (text ? JSON.parse(text) : {}) as T;
  };
  return {
    getGroup: (group) => call<InstanceGroupManager>("GET", group, "", `read managed instance group ${group.path}`),
    async listManagedInstances(group) {
      const instances: ManagedInstance[] = [];
      let pageToken: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const query = new URLSearchParams({ maxResults: "500", ...(pageToken ? { pageToken } : {}) });
        const out = await call<{ managedInstances?: ManagedInstance[]; nextPageToken?: string }>("POST", group, `/listManagedInstances?${query}`, `list the instances of ${group.path}`);
        instances.push(...(out.managedInstances ?? []));
        pageToken = out.nextPageToken || undefined;
        if (!pageToken) break;
      }
      return instances;
    },
    async resize(group, size) {
      const op = await call<{ error?: { errors?: ComputeError[] } }>("POST", group, `/resize?size=${size}`, `resize ${group.path} to ${size}`);
      const errors = op.error?.errors ?? [];
      if (errors.length) throw new ComputeApiError(200, `resizing ${group.path} to ${size} failed: ${errors.map((e) => `${e.code}: ${e.message ?? ""}`).join("; ")}`);
    },
  };
}
