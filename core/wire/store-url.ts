/**
 * Store URLs, one format for the Pulumi program that writes them, the
 * runtime that opens them and the CLI that shows them: `s3://bucket/prefix`,
 * `gs://bucket/prefix`, `http(s)://` (read-only), `file://` or a directory.
 * Pure: no SDK, no file system.
 */

export type ObjectScheme = "s3" | "gs";

export type StoreLocation =
  | { kind: "object"; scheme: ObjectScheme; bucket: string; prefix: string }
  | { kind: "http"; url: string }
  | { kind: "file"; url: string }
  | { kind: "directory"; path: string }
  /** A URL with a scheme no store serves, or an object URL without a bucket. */
  | { kind: "invalid"; url: string; reason: "unsupported" | "no-bucket" };

const OBJECT_SCHEMES: readonly ObjectScheme[] = ["s3", "gs"];
const ANY_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** The store a URL names. Empty prefix segments are dropped (`s3://b//p/` is `s3://b/p`). */
export function parseStoreUrl(url: string): StoreLocation {
  const scheme = ANY_SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: "directory", path: url };
  const objectScheme = OBJECT_SCHEMES.find((s) => s === scheme);
  if (objectScheme) {
    const [bucket, ...prefix] = url.slice(scheme.length + 3).split("/");
    if (!bucket) return { kind: "invalid", url, reason: "no-bucket" };
    return { kind: "object", scheme: objectScheme, bucket, prefix: prefix.filter(Boolean).join("/") };
  }
  if (scheme === "http" || scheme === "https") return { kind: "http", url };
  if (scheme === "file") return { kind: "file", url };
  return { kind: "invalid", url, reason: "unsupported" };
}

/** `s3://bucket/prefix` (no slash at the end, none for an empty prefix). */
export function formatObjectStoreUrl(scheme: ObjectScheme, bucket: string, prefix: string): string {
  const path = prefix.split("/").filter(Boolean).join("/");
  return `${scheme}://${bucket}${path ? `/${path}` : ""}`;
}
