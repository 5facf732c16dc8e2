/** Opens the store a URL names: a directory, s3://, gs://, or read-only http(s)://. */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GcsStore } from "./gcs";
import { HttpStore } from "./http";
import { LocalDirStore } from "./local-dir";
import { S3Store } from "./s3";
import type { Store } from "./store";

export function openStore(url: string): Store {
  const bucketAndPrefix = (rest: string) => {
    const [bucket, ...prefix] = rest.split("/");
    if (!bucket) throw new Error(`store URL ${url} names no bucket`);
    return [bucket, prefix.filter(Boolean).join("/")] as const;
  };
  if (url.startsWith("s3://")) return new S3Store(...bucketAndPrefix(url.slice(5)));
  if (url.startsWith("gs://")) return new GcsStore(...bucketAndPrefix(url.slice(5)));
  if (/^https?:\/\//.test(url)) return new HttpStore(new URL(url));
  if (url.startsWith("file://")) return new LocalDirStore(fileURLToPath(url));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw new Error(`unsupported store URL ${url}: use a directory, s3://bucket/prefix, gs://bucket/prefix or http(s)://`);
  return new LocalDirStore(resolve(url));
}
