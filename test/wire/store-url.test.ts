import { describe, expect, it } from "vitest";
import { formatObjectStoreUrl, parseStoreUrl } from "../../core/wire/store-url";

describe("store URLs", () => {
  it.each([
    ["s3://bucket/jobs/a", { kind: "object", scheme: "s3", bucket: "bucket", prefix: "jobs/a" }],
    ["gs://bucket//jobs/a/", { kind: "object", scheme: "gs", bucket: "bucket", prefix: "jobs/a" }],
    ["S3://bucket", { kind: "object", scheme: "s3", bucket: "bucket", prefix: "" }],
    ["s3://", { kind: "invalid", url: "s3://", reason: "no-bucket" }],
    ["gs:///jobs", { kind: "invalid", url: "gs:///jobs", reason: "no-bucket" }],
    ["ftp://host/x", { kind: "invalid", url: "ftp://host/x", reason: "unsupported" }],
    ["https://host/x", { kind: "http", url: "https://host/x" }],
    ["file:///tmp/x", { kind: "file", url: "file:///tmp/x" }],
    ["./relative/dir", { kind: "directory", path: "./relative/dir" }],
    ["/abs/dir", { kind: "directory", path: "/abs/dir" }],
  ])("%s", (url, expected) => {
    expect(parseStoreUrl(url)).toEqual(expected);
  });

  it("formats what it parses, with no empty segment and no trailing slash", () => {
    expect(formatObjectStoreUrl("gs", "b", "/jobs//a/")).toBe("gs://b/jobs/a");
    expect(formatObjectStoreUrl("s3", "b", "")).toBe("s3://b");
    for (const url of ["s3://b/jobs/a", "gs://b/p", "s3://b"]) {
      const at = parseStoreUrl(url);
      if (at.kind !== "object") throw new Error(url);
      expect(formatObjectStoreUrl(at.scheme, at.bucket, at.prefix)).toBe(url);
    }
  });
});
