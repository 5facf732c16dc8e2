/**
 * The job's IAM grants on GCP: pure functions of its project, region,
 * bucket, prefix, groups and secrets. Like infra/aws/policy.ts, they allow
 * what the runtime and the supervisor call and nothing else, and no grant is
 * project-wide: objects are granted on the bucket with an IAM condition on
 * the object's name, secrets on each secret, and the groups' custom role on
 * the project with a condition naming the groups.
 *
 * Facts these encode:
 * - Object access under a prefix is a bucket binding with the condition
 *   `resource.name.startsWith("projects/_/buckets/B/objects/PREFIX/")`; IAM
 *   Conditions on a bucket need uniform bucket-level access
 *   (https://cloud.google.com/storage/docs/access-control/iam#conditions).
 * - `storage.objects.list` is checked against the bucket, not an object, so
 *   that condition never allows a listing; the list request's `prefix` is the
 *   API attribute `storage.googleapis.com/objectListPrefix`, which a
 *   condition may test (https://cloud.google.com/iam/docs/conditions-attribute-reference#api-attributes).
 *   The listing grant tests it: only listings under the job's prefix.
 * - Overwriting an object needs create and delete (roles/storage.objectUser
 *   has both, with get, list and the XML multipart calls;
 *   https://cloud.google.com/storage/docs/access-control/iam-roles).
 * - Compute Engine has no IAM policy on a managed instance group, so the
 *   groups' role is bound on the project with a condition on the resource's
 *   name, `projects/P/regions/R/instanceGroupManagers/N`
 *   (https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name).
 *   The condition tests the name's end (region, collection and group name):
 *   Compute may give the project as its id or its number, and the binding is
 *   on the one project already.
 * - Resizing a group is `compute.instanceGroupManagers.update`; reading it
 *   and listing its instances is `.get`
 *   (https://cloud.google.com/compute/docs/reference/rest/v1/regionInstanceGroupManagers/resize).
 * - A secret's versions are read with `roles/secretmanager.secretAccessor`
 *   on the secret (https://cloud.google.com/secret-manager/docs/access-control).
 */
import { gcpSecretVersionName } from "../../core/jobspec/secrets";
import { groupPath } from "./names";

/** Where a grant is bound: the job's bucket, a secret, or (conditioned) the project. */
export type GrantTarget = { kind: "bucket"; bucket: string } | { kind: "secret"; secret: string } | { kind: "project"; project: string };

export interface IamCondition {
  title: string;
  description: string;
  expression: string;
}

export interface GcpGrant {
  /** Stable and unique among one identity's grants: part of the binding's resource name. */
  id: string;
  target: GrantTarget;
  role: string;
  condition?: IamCondition;
}

/** What both identities are confined to. */
export interface GcpScope {
  project: string;
  region: string;
  bucket: string;
  /** The job's object-name prefix, without slashes at either end. */
  prefix: string;
  /** The job's managed instance groups (names, in `region`). */
  groupNames: string[];
  /** The custom role's full name, `projects/P/roles/ID`. */
  groupRole: string;
}

/** What the custom role bound to the job's groups allows: read a group (and its instances), and resize it. */
export const GROUP_ROLE_PERMISSIONS = ["compute.instanceGroupManagers.get", "compute.instanceGroupManagers.update"] as const;

/** A CEL string literal (CEL's double-quoted strings take JSON's escapes). */
const cel = (text: string) => JSON.stringify(text);

/** Objects whose name starts with `under` (a prefix ending in `/`). */
export function objectsUnder(bucket: string, under: string): string {
  return `resource.name.startsWith(${cel(`projects/_/buckets/${bucket}/objects/${under}`)})`;
}

/** Listings whose prefix starts with `under`. */
export function listingsUnder(under: string): string {
  return `api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith(${cel(under)})`;
}

/** The job's groups, by name, in the job's region of the bound project. */
export function groupsCondition(region: string, groupNames: readonly string[]): string {
  return groupNames.map((name) => `resource.name.endsWith(${cel(`/regions/${region}/instanceGroupManagers/${name}`)})`).join(" || ");
}

/** The secret a `gcpsm:` reference's `ref` is read from (`projects/P/secrets/S`), in `project` for a bare id. */
export function secretOf(ref: string, project: string): string {
  return gcpSecretVersionName(ref, project).replace(/\/versions\/[^/]+$/, "");
}

function groupsGrant(s: GcpScope): GcpGrant {
  return {
    id: "groups",
    target: { kind: "project", project: s.project },
    role: s.groupRole,
    condition: { title: "spotjob-own-groups", description: `Only the job's managed instance groups: ${s.groupNames.join(", ")}`, expression: groupsCondition(s.region, s.groupNames) },
  };
}

function listingGrant(s: GcpScope): GcpGrant {
  return {
    id: "listing",
    target: { kind: "bucket", bucket: s.bucket },
    role: "roles/storage.objectViewer",
    condition: { title: "spotjob-job-listing", description: `Listing ${s.prefix}/ only`, expression: listingsUnder(`${s.prefix}/`) },
  };
}

export interface InstanceGrantsArgs extends GcpScope {
  /** `gcpsm:` references' `ref`s (`projects/P/secrets/S/versions/V`, or a bare secret id in the job's project). */
  secrets: string[];
}

/**
 * The instance's grants: every object call under the job's prefix (read,
 * write, overwrite, delete, compose, the XML multipart calls), listings under
 * it, resize and read of the job's own groups (the instance resizes them to
 * zero when the job ends), and each secret the spec names.
 */
export function instanceGrants(a: InstanceGrantsArgs): GcpGrant[] {
  const secrets = [...new Set(a.secrets.map((ref) => secretOf(ref, a.project)))].sort();
  return [
    {
      id: "objects",
      target: { kind: "bucket", bucket: a.bucket },
      role: "roles/storage.objectUser",
      condition: { title: "spotjob-job-objects", description: `Objects under ${a.prefix}/ only`, expression: objectsUnder(a.bucket, `${a.prefix}/`) },
    },
    listingGrant(a),
    groupsGrant(a),
    ...secrets.map((secret, i): GcpGrant => ({ id: `secret-${i}`, target: { kind: "secret", secret }, role: "roles/secretmanager.secretAccessor" })),
  ];
}

/**
 * The supervisor's grants: read the job's objects (its status, records and
 * the runtime it runs), list under the prefix (a record not yet written reads
 * as missing, not as a refusal), write its own records under
 * `<prefix>/supervisor/`, and read and resize the job's own groups.
 */
export function supervisorGrants(s: GcpScope): GcpGrant[] {
  return [
    {
      id: "read",
      target: { kind: "bucket", bucket: s.bucket },
      role: "roles/storage.objectViewer",
      condition: { title: "spotjob-job-objects-read", description: `Reading objects under ${s.prefix}/ only`, expression: objectsUnder(s.bucket, `${s.prefix}/`) },
    },
    listingGrant(s),
    {
      id: "records",
      target: { kind: "bucket", bucket: s.bucket },
      role: "roles/storage.objectUser",
      condition: { title: "spotjob-supervisor-records", description: `Its own records under ${s.prefix}/supervisor/ only`, expression: objectsUnder(s.bucket, `${s.prefix}/supervisor/`) },
    },
    groupsGrant(s),
  ];
}

/** Predefined roles that reach storage or compute resources beyond the job's: never granted on the project. */
const BROAD_ROLE = /^roles\/(?:owner|editor|viewer|storage\.|compute\.|iam\.|secretmanager\.|run\.)/;

/**
 * Grants that reach beyond the job: a project binding without a condition, a
 * broad predefined role on the project, or a bucket binding of an object role
 * without a condition. A least-privilege violation (tests assert none).
 */
export function beyondTheJob(grants: readonly GcpGrant[]): GcpGrant[] {
  return grants.filter(
    (g) => (g.target.kind === "project" && (!g.condition || BROAD_ROLE.test(g.role))) || (g.target.kind === "bucket" && !g.condition),
  );
}

/** The groups' paths as the runtime, the supervisor and the startup script take them. */
export function groupPaths(s: Pick<GcpScope, "project" | "region" | "groupNames">): string[] {
  return s.groupNames.map((name) => groupPath(s.project, s.region, name));
}
