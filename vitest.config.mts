import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    // A file's beforeAll builds a bundle and starts emulators: on a loaded 2-core machine that took over the 10 s default.
    hookTimeout: 120_000,
    pool: "forks",
  },
});
