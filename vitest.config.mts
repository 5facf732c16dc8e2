import { availableParallelism } from "node:os";
import { configDefaults, defineConfig } from "vitest/config";

/** The fast tier (`npm test`): every test but the soak tests (`*.soak.test.ts`, `npm run test:soak`). */
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, "test/**/*.soak.test.ts"],
    // Builds the bundles and starts the store emulators once for the run; checks the repository is left as found.
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    // A loaded 2-core machine has taken over the 10 s default for a hook that spawns processes.
    hookTimeout: 120_000,
    pool: "forks",
    // Files mostly wait on the processes they start: two at a time even on 2 cores (vitest's default, CPUs - 1, ran
    // them one by one there).
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
