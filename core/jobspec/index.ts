export * from "./diagnostics";
export * from "./schema";
export * from "./sweep";
export * from "./secrets";
export { loadSpecFile, parseSpec, unsupportedProvider, nameFromFile, SpecError, MAX_SPEC_BYTES, RUNTIME_ENV_NAMES } from "./load";
export type { LoadedSpec, ResolvedSpec, SpecResult } from "./load";
export * from "./json-schema";
