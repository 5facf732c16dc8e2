import type { ResolvedSpec } from "../../core/jobspec/load";
import { localJobHome, machineStateDir } from "../../runtime/local-home";
import { loadOrReport } from "./load";

/** Where `spotjob run` keeps a job on this machine: the store (`.spotjob/<job>/` unless told otherwise) and the machine-local cache of that store. */
export function jobHome(spec: ResolvedSpec, storeOverride?: string): { store: string; state: string } {
  const home = localJobHome(".", spec.name);
  const store = storeOverride ?? home.store;
  return { store, state: machineStateDir(home, store) };
}

/** The store of the job a spec names (`--store` wins), or the exit status when the spec cannot be read. */
export function storeOf(specFile: string, storeUrl: string | undefined): { url: string; job: string; spec: ResolvedSpec } | number {
  const loaded = loadOrReport(specFile);
  if (typeof loaded === "number") return loaded;
  return { url: jobHome(loaded.spec, storeUrl).store, job: loaded.spec.name, spec: loaded.spec };
}
