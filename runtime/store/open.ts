/** Opens the store a URL names: a directory, s3://, gs://, or read-only http(s)://. */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { formatObjectStoreUrl, parseStoreUrl } from "../../core/wire/store-url";
import { HttpStore } from "./http";
import { LocalDirStore } from "./local-dir";
import { OnDemandStore } from "./on-demand";
import { StoreError, type Store } from "./store";

/** The object stores, each loaded with its SDK on first use. */
const OBJECT_STORES = {
  s3: async (bucket: string, prefix: string): Promise<Store> => new (await import("./s3.js")).S3Store(bucket, prefix),
  gs: async (bucket: string, prefix: string): Promise<Store> => new (await import("./gcs.js")).GcsStore(bucket, prefix),
} as const;

/**
 * S3 and GCS stores load their SDK (a second or more to load on a busy
 * machine) on first use, through `import()`, which the bundles evaluate only
 * then; each reads its endpoint settings from the environment at that point.
 */
export function openStore(url: string): Store {
  const at = parseStoreUrl(url);
  switch (at.kind) {
    case "object":
      // The URL as the store says it (what S3Store and GcsStore make of it), known before they load.
      return new OnDemandStore(formatObjectStoreUrl(at.scheme, at.bucket, at.prefix), () => OBJECT_STORES[at.scheme](at.bucket, at.prefix));
    case "http":
      return new HttpStore(new URL(at.url));
    case "file":
      return new LocalDirStore(fileURLToPath(at.url));
    case "directory":
      return new LocalDirStore(resolve(at.path));
    case "invalid":
      if (at.reason === "no-bucket") throw new StoreError(url, "bad-url", "the URL names no bucket", "write it as s3://bucket/prefix or gs://bucket/prefix");
      throw new StoreError(url, "bad-url", `unsupported store URL ${url}`, "use a directory, s3://bucket/prefix, gs://bucket/prefix or http(s)://");
  }
}
