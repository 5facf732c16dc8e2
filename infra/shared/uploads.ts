/**
 * What an instance fetches at boot, on every cloud: the runtime bundle, the
 * validated spec as JSON (so the instance never parses YAML or sees the
 * user's files) and the workdir packed per .gitignore, under
 * `<prefix>/deploy/`. Each cloud's objects component uploads these.
 */
import * as pulumi from "@pulumi/pulumi";
import { resolve } from "node:path";
import type { ResolvedSpec } from "../../core/jobspec/load";
import { packWorkdir, WORKDIR_ARCHIVE_NAME } from "./workdir-archive";

/** Where the instance extracts the workdir, relative to the uploaded spec ($ROOT/work: startup-skeleton.ts). */
export const INSTANCE_WORKDIR = "work";

export interface UploadsArgs {
  prefix: string;
  /** The bundled runtime (dist/runtime.cjs). */
  runtimeBundle: string;
  spec: ResolvedSpec;
  /** Directory of the spec file: `workdir` is relative to it. */
  specDir: string;
}

export interface Upload {
  /** Names the resource (`<component>-<part>`). */
  part: "runtime" | "spec" | "workdir";
  /** The object's key in the bucket. */
  key: string;
  source: pulumi.Input<pulumi.asset.Asset>;
  contentType: string;
}

export function jobUploads(args: UploadsArgs): Upload[] {
  const key = (name: string) => `${args.prefix}/deploy/${name}`;
  const instanceSpec: ResolvedSpec = { ...args.spec, workdir: INSTANCE_WORKDIR };
  const uploads: Upload[] = [
    { part: "runtime", key: key("runtime.cjs"), source: new pulumi.asset.FileAsset(args.runtimeBundle), contentType: "application/javascript" },
    { part: "spec", key: key("spec.json"), source: new pulumi.asset.StringAsset(JSON.stringify(instanceSpec, null, 2)), contentType: "application/json" },
  ];
  if (args.spec.workdir) {
    // An over-size workdir fails the preview with the largest files named.
    const archive = pulumi.output(
      packWorkdir(resolve(args.specDir, args.spec.workdir)).catch((e: Error) => {
        throw new pulumi.RunError(e.message); // the located message, without a stack
      }),
    );
    uploads.push({ part: "workdir", key: key(WORKDIR_ARCHIVE_NAME), source: archive.apply((a) => new pulumi.asset.FileAsset(a.file)), contentType: "application/gzip" });
  }
  return uploads;
}
