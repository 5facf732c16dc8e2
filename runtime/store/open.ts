/** Opens the store a URL names: a directory, s3://, gs://, or read-only http(s)://. */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { HttpStore } from "./http";
import { LocalDirStore } from "./local-dir";
import { OnDemandStore } from "./on-demand";
import { StoreError, type Store } from "./store";

/**
 * S3 and GCS stores load their SDK (a second or more to load on a busy
 * machine) on first use, through `import()`, which the bundles evaluate only
 * then; each reads its endpoint settings from the environment at that point.
 */
export function openStore(url: string): Store {
  const bucketAndPrefix = (rest: string) => {
    const [bucket, ...prefix] = rest.split("/");
    if (!bucket) throw new StoreError(url, "bad-url", "the URL names no bucket", "write it as s3://bucket/prefix or gs://bucket/prefix");
    return [bucket, prefix.filter(Boolean).join("/")] as const;
  };
  // The URL as the store says it (what S3Store and GcsStore make of it), known before they load.
  const shown = (scheme: string, [bucket, prefix]: readonly [string, string]) => `${scheme}://${bucket}${prefix ? `/${prefix}` : ""}`;
  if (url.startsWith("s3://")) {
    const at = bucketAndPrefix(url.slice(5));
    return new OnDemandStore(shown("s3", at), async () => new (await import("./s3.js")).S3Store(...at));
  }
  if (url.startsWith("gs://")) {
    const at = bucketAndPrefix(url.slice(5));
    return new OnDemandStore(shown("gs", at), async () => new (await import("./gcs.js")).GcsStore(...at));
  }
  if (/^https?:\/\//.test(url)) return new HttpStore(new URL(url));
  if (url.startsWith("file://")) return new LocalDirStore(fileURLToPath(url));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw new StoreError(url, "bad-url", `unsupported store URL ${url}`, "use a directory, s3://bucket/prefix, gs://bucket/prefix or http(s)://");
  return new LocalDirStore(resolve(url));
}
