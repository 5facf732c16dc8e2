// Types for esbuild-options.mjs.
import type { BuildOptions } from "esbuild";

/** Options every bundle is built with (target, format, aliases). */
export declare const common: BuildOptions;
