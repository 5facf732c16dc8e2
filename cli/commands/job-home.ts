import { join, resolve } from "node:path";
import type { ResolvedSpec } from "../../core/spec/load";

/** Where `spotjob run` keeps a job on this machine unless told otherwise: `.spotjob/<job>/`. */
export function jobHome(spec: ResolvedSpec): { store: string; state: string } {
  const home = resolve(".spotjob", spec.name);
  return { store: home, state: join(home, "machine") };
}
