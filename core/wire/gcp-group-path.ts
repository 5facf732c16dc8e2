/**
 * A managed instance group as spotjob names it, in the instance environment
 * (SPOTJOB_GCP_GROUPS) and the supervisor's configuration (SPOTJOB_SUPERVISOR):
 * `projects/P/regions/R/instanceGroupManagers/N` (regional, what spotjob
 * creates) or `projects/P/zones/Z/instanceGroupManagers/N` (zonal). Either
 * path, appended to `compute/v1/`, is the group's REST resource
 * (https://cloud.google.com/compute/docs/reference/rest/v1/regionInstanceGroupManagers/get,
 * .../v1/instanceGroupManagers/get). Nothing else is sent to the API. Pure.
 */

export interface GroupPath {
  /** The path as given (no leading or trailing slash). */
  path: string;
  project: string;
  /** `regions` for a regional group, `zones` for a zonal one. */
  scope: "regions" | "zones";
  /** The region or zone named in the path. */
  location: string;
  /** The region the group lives in (a zone's region for a zonal group). */
  region: string;
  name: string;
}

// Project IDs, regions and zones: lower case letters, digits and dashes (a domain-scoped project has a colon and dots).
// A group's name is a resource name: a lower case letter first, at most 63 characters, no dash last
// (https://cloud.google.com/compute/docs/naming-resources#resource-name-format).
const PATH = /^projects\/([a-z0-9.:-]+)\/(regions|zones)\/([a-z0-9-]+)\/instanceGroupManagers\/([a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)$/;

/** A regional group's path: how the Pulumi program names the groups it creates. */
export function formatGroupPath(project: string, region: string, name: string): string {
  return `projects/${project}/regions/${region}/instanceGroupManagers/${name}`;
}

/** Whether `path` is a group path exactly as the API takes it. */
export function isGroupPath(path: string): boolean {
  return PATH.test(path);
}

export function parseGroupPath(text: string): GroupPath {
  const path = text.replace(/^\/+|\/+$/g, "");
  const m = PATH.exec(path);
  if (!m) {
    throw new Error(
      `managed instance group ${JSON.stringify(text)} is not a group path: write it as projects/PROJECT/regions/REGION/instanceGroupManagers/NAME (the spotjob Pulumi program writes it so; check SPOTJOB_SUPERVISOR)`,
    );
  }
  const [, project, scope, location, name] = m;
  // A zone is its region and a one-letter suffix: us-central1-a is in us-central1.
  const region = scope === "zones" ? location.replace(/-[a-z]$/, "") : location;
  return { path, project, scope: scope as GroupPath["scope"], location, region, name };
}

/** The gcloud flag that names where the group is, for the fixes shown to the user. */
export function gcloudLocationFlag(g: GroupPath): string {
  return g.scope === "regions" ? `--region=${g.location}` : `--zone=${g.location}`;
}
