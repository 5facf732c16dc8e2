// Types for build.mjs, which the tests share: one set of esbuild options for the product and its test bundles.
import type { BuildOptions } from "esbuild";

/** Options every bundle is built with (target, format, aliases). */
export declare const common: BuildOptions;
/** The product's bundles: the CLI, the on-instance runtime, the runtime API. */
export declare const bundles: BuildOptions[];
