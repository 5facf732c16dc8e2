/**
 * Imported first by the entry points (runtime/main.ts, cli/main.ts), so that
 * it runs before the rest of the bundle: see early-signals.ts. (It must stay
 * an ES module, no `module` or `require` in it: esbuild would wrap it and run
 * it after the rest.)
 */
import { holdSignals } from "./early-signals";

// Only `run` stops cleanly on a signal; every other command keeps Node's default.
if (process.argv[2] === "run") holdSignals();
