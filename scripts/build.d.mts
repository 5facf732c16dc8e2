// Types for build.mjs.
import type { BuildOptions } from "esbuild";

/** The product's bundles (CLI, runtime, runtime API), each to be built with `common`, written into `outdir` (default dist/). */
export declare function bundles(outdir?: string): BuildOptions[];
