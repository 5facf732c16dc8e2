/**
 * A fake of the Compute Engine API's managed instance group calls, for the
 * runtime's end-of-job resize and the supervisor's capacity control
 * (runtime/cloud/gcp/compute.ts). No Compute Engine emulator can be installed
 * here, so it serves exactly the calls spotjob makes, under `/compute/v1/`
 * (the root is SPOTJOB_COMPUTE_ENDPOINT), and encodes these protocol facts:
 *
 * - GET .../projects/P/regions/R/instanceGroupManagers/N -> InstanceGroupManager {kind
 *   "compute#instanceGroupManager", name, region, targetSize, currentActions {none, creating,
 *   creatingWithoutRetries, recreating, deleting, ...} (counts of the instances' currentAction), status
 *   {isStable}}: https://cloud.google.com/compute/docs/reference/rest/v1/regionInstanceGroupManagers/get
 * - POST .../listManagedInstances -> {managedInstances: [{instance, name, instanceStatus (absent while no VM
 *   exists), currentAction, lastAttempt {errors {errors: [{code, message}]}}}]} (no key at all for an empty group):
 *   https://cloud.google.com/compute/docs/reference/rest/v1/regionInstanceGroupManagers/listManagedInstances
 * - POST .../resize?size=K -> Operation {kind "compute#operation", operationType
 *   "compute.instanceGroupManagers.resize", status, targetLink}; the group's targetSize becomes K and it schedules
 *   the creations or deletions: https://cloud.google.com/compute/docs/reference/rest/v1/regionInstanceGroupManagers/resize
 * - The same paths under zones/Z are a zonal group's: https://cloud.google.com/compute/docs/reference/rest/v1/instanceGroupManagers
 * - Every call carries `Authorization: Bearer <the service account's token>`; without it, 401.
 *   get and listManagedInstances need compute.instanceGroupManagers.get, resize needs
 *   compute.instanceGroupManagers.update (the "IAM Permissions" of each method's reference page above); a
 *   group whose caller lacks them answers 403 "Required '<permission>' permission for '<group>'"; no such
 *   group, 404 "The resource '<group>' was not found".
 * - A refused call answers Google's JSON error model with its HTTP status: {error: {code, message, errors:
 *   [{domain "global", reason, message}]}} (https://cloud.google.com/apis/design/errors#http_mapping); the
 *   Compute API's own errors carry no `status` name.
 *
 * Not modelled: the groups' other methods, an Operation that fails later, listManagedInstances' pages.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ManagedInstance } from "../../runtime/cloud/gcp/compute";

export interface GceComputeGroup {
  targetSize: number;
  instances: ManagedInstance[];
  /** The caller lacks the permissions on this group: every call on it answers 403. */
  forbidden?: boolean;
}

export interface GceComputeCall {
  method: string;
  /** As requested: `/compute/v1/projects/P/regions/R/instanceGroupManagers/N/resize`. */
  path: string;
  /** The query with its `?`, or "". */
  search: string;
  /** The HTTP status answered. */
  status?: number;
}

export interface GceComputeFake {
  /** http://127.0.0.1:PORT, the SPOTJOB_COMPUTE_ENDPOINT form. */
  endpoint: string;
  /** The groups, by path (`projects/P/regions/R/instanceGroupManagers/N`); a call on any other is 404. */
  groups: Map<string, GceComputeGroup>;
  /** Every call received, in order. */
  calls: GceComputeCall[];
  close(): Promise<void>;
}

const BASE = "/compute/v1/";
const GROUP_CALL = /^(projects\/[^/]+\/(?:regions|zones)\/[^/]+\/instanceGroupManagers\/[^/]+)(?:\/(listManagedInstances|resize))?$/;
/** The permission each call needs. */
const PERMISSION: Record<string, string> = { "": "compute.instanceGroupManagers.get", listManagedInstances: "compute.instanceGroupManagers.get", resize: "compute.instanceGroupManagers.update" };

/** `CREATING_WITHOUT_RETRIES` -> `creatingWithoutRetries`, as currentActions names its counts. */
const camel = (action: string) => action.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

export async function startGceCompute(o: { token: string }): Promise<GceComputeFake> {
  const groups = new Map<string, GceComputeGroup>();
  const calls: GceComputeCall[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://compute.googleapis.com");
    const call: GceComputeCall = { method: req.method ?? "", path: url.pathname, search: url.search };
    calls.push(call);
    const json = (status: number, body: unknown): void => {
      call.status = status;
      res.writeHead(status, { "Content-Type": "application/json; charset=UTF-8" }).end(JSON.stringify(body));
    };
    const refuse = (status: number, reason: string, message: string): void => json(status, { error: { code: status, message, errors: [{ domain: "global", reason, message }] } });

    const m = url.pathname.startsWith(BASE) ? GROUP_CALL.exec(url.pathname.slice(BASE.length)) : null;
    if (!m) return refuse(404, "notFound", `The requested URL ${url.pathname} was not found on this server.`);
    const [, path, verb = ""] = m;
    const name = path.split("/").pop()!;
    if (req.headers.authorization !== `Bearer ${o.token}`) return refuse(401, "required", "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.");
    const group = groups.get(path);
    if (!group) return refuse(404, "notFound", `The resource '${path}' was not found`);
    if (group.forbidden) return refuse(403, "forbidden", `Required '${PERMISSION[verb]}' permission for '${path}'`);

    if (req.method === "GET" && verb === "") {
      const counts: Record<string, number> = { none: 0, creating: 0, creatingWithoutRetries: 0, recreating: 0, deleting: 0, abandoning: 0, restarting: 0, refreshing: 0, verifying: 0 };
      for (const i of group.instances) {
        const action = camel(i.currentAction ?? "NONE");
        counts[action] = (counts[action] ?? 0) + 1;
      }
      return json(200, {
        kind: "compute#instanceGroupManager",
        name,
        region: `https://www.googleapis.com/compute/v1/${path.split("/instanceGroupManagers/")[0]}`,
        targetSize: group.targetSize,
        currentActions: counts,
        status: { isStable: counts.none === group.instances.length && group.instances.length === group.targetSize },
      });
    }
    if (req.method === "POST" && verb === "listManagedInstances") return json(200, group.instances.length ? { managedInstances: group.instances } : {});
    if (req.method === "POST" && verb === "resize") {
      const size = Number(url.searchParams.get("size"));
      if (!Number.isInteger(size) || size < 0) return refuse(400, "invalid", `Invalid value for field 'size': '${url.searchParams.get("size")}'.`);
      // The group schedules what the new size needs: deletions of the surplus, creations of the missing.
      group.instances = group.instances.slice(0, size);
      while (group.instances.length < size) group.instances.push({ name: `${name}-${group.instances.length}`, currentAction: "CREATING" });
      group.targetSize = size;
      return json(200, { kind: "compute#operation", name: `operation-${calls.length}`, operationType: "compute.instanceGroupManagers.resize", status: "DONE", targetLink: `https://www.googleapis.com/compute/v1/${path}` });
    }
    return refuse(400, "badRequest", `unexpected ${req.method} ${url.pathname}`);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    groups,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
