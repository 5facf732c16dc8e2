import type { ResolvedSpec } from "../../core/spec/load";
import { localJobHome, machineStateDir } from "../../runtime/local-home";

/** Where `spotjob run` keeps a job on this machine: the store (`.spotjob/<job>/` unless told otherwise) and the machine-local cache of that store. */
export function jobHome(spec: ResolvedSpec, storeOverride?: string): { store: string; state: string } {
  const home = localJobHome(".", spec.name);
  const store = storeOverride ?? home.store;
  return { store, state: machineStateDir(home, store) };
}
