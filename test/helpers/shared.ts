/**
 * What test/global-setup.ts built and started once for the whole run, handed to
 * every test file through vitest's provide/inject: the bundles (in a temporary
 * directory laid out like the installed package) and the shared store emulators.
 */
import { randomBytes } from "node:crypto";
import { inject } from "vitest";

/** A running emulator as a test file sees it (the global setup stops it). */
export interface SharedEmulator {
  endpoint: string;
  pid?: number;
}

export interface SharedBundles {
  /** The package as installed: package.json, bin/spotjob.js, dist/*.cjs, node_modules (a link to the repository's). */
  packageDir: string;
  /** dist/runtime.cjs (unminified, for readable stack traces). */
  runtime: string;
  /** dist/spotjob.cjs, as `npm run build` makes it. */
  cli: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    bundles: SharedBundles;
    /** null: moto_server is not installed (the tests that need it are skipped). */
    moto: SharedEmulator | null;
    /** null: fake-gcs-server is not installed. */
    gcs: SharedEmulator | null;
  }
}

function provided<K extends "bundles" | "moto" | "gcs">(key: K) {
  const value = inject(key);
  if (value === undefined) throw new Error(`nothing provided for "${key}": run the tests through vitest.config.mts or vitest.soak.config.mts (their globalSetup provides it)`);
  return value;
}

export const bundles = (): SharedBundles => provided("bundles");
export const sharedMoto = (): SharedEmulator | undefined => provided("moto") ?? undefined;
export const sharedGcs = (): SharedEmulator | undefined => provided("gcs") ?? undefined;

/** Random per test file (each file runs in its own worker): bucket and resource names on the shared emulators never collide. */
export const FILE_TAG = randomBytes(4).toString("hex");

/** `base` made unique to this test file, as a bucket or resource name (lower case, digits and dashes). */
export const unique = (base: string): string => `${base}-${FILE_TAG}`;
