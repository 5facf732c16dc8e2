import { configDefaults, defineConfig } from "vitest/config";
import fast from "./vitest.config.mts";

/**
 * The soak tier (`npm run test:soak`): the long kill-and-resume harnesses, named `*.soak.test.ts`; the same
 * global setup and limits as the fast tier.
 */
export default defineConfig({ ...fast, test: { ...fast.test, include: ["test/**/*.soak.test.ts"], exclude: configDefaults.exclude } });
