/**
 * A plan: a spec loaded, its offers selected and its cost guards checked,
 * offline. `spotjob plan` prints it; the Pulumi program acts on it.
 */
import { CatalogError, loadCatalog, type Catalog } from "../catalog/catalog";
import { evaluateGuards, guardDiagnostics, type GuardReport } from "../guards/cost";
import { selectOffers, type Selection } from "../offers/select";
import type { Diagnostic } from "../jobspec/diagnostics";
import { loadSpecFile, missingWorkdir, unsupportedProvider, type LoadedSpec } from "../jobspec/load";
import { provider } from "../providers/registry";
import { referenceText, unqualifiedParameters } from "../jobspec/secrets";

export interface PlanOptions {
  /** A catalog override file; default: $SPOTJOB_CATALOG. */
  catalogFile?: string;
}

export type Plan =
  /** Ready to launch. */
  | { outcome: "ok"; loaded: LoadedSpec; selection: Selection; guards: GuardReport; warnings: Diagnostic[] }
  /** Valid, but a cost guard forbids the launch. */
  | { outcome: "guard_violated"; loaded: LoadedSpec; selection: Selection; guards: GuardReport; warnings: Diagnostic[]; errors: Diagnostic[] }
  /** The spec is invalid, impossible (no such offer), or names a provider spotjob cannot launch on. */
  | { outcome: "invalid"; loaded?: LoadedSpec; errors: Diagnostic[]; warnings: Diagnostic[]; text?: string }
  /** Anything else: an unreadable file, a broken catalog override. */
  | { outcome: "error"; errors: Diagnostic[]; warnings: Diagnostic[]; text?: string };

export function planFile(file: string, options: PlanOptions = {}): Plan {
  const result = loadSpecFile(file);
  if (!result.ok) {
    const unreadable = result.errors.every((e) => e.line === 0 && e.code !== "file_too_large");
    return { outcome: unreadable ? "error" : "invalid", errors: result.errors, warnings: result.warnings, text: result.text };
  }
  return planSpec(result.loaded, options);
}

export function planSpec(loaded: LoadedSpec, options: PlanOptions = {}): Plan {
  const unsupported = unsupportedProvider(loaded) ?? missingWorkdir(loaded);
  if (unsupported) return { outcome: "invalid", loaded, errors: [unsupported], warnings: loaded.warnings };
  let catalog: Catalog | undefined;
  const cloud = provider(loaded.spec.provider).cloud;
  if (cloud) {
    try {
      catalog = loadCatalog(cloud, options.catalogFile ?? (process.env.SPOTJOB_CATALOG || undefined));
    } catch (e) {
      if (e instanceof CatalogError) return { outcome: "error", errors: e.diagnostics, warnings: loaded.warnings };
      throw e;
    }
  }
  const selection = selectOffers(loaded, catalog);
  if (!selection.ok) return { outcome: "invalid", loaded, errors: selection.errors, warnings: loaded.warnings };
  const warnings = [...loaded.warnings, ...selection.warnings];
  if (!selection.local) warnings.push(...unpinnedParameterWarnings(loaded, selection.chosen.region));
  const guards = evaluateGuards(loaded.spec, selection);
  if (guards.violated.length > 0) {
    return { outcome: "guard_violated", loaded, selection, guards, warnings, errors: guardDiagnostics(loaded, guards) };
  }
  return { outcome: "ok", loaded, selection, guards, warnings };
}

/**
 * `ssm:<name>` is read in the job's region; with no fixed region that is
 * whichever is cheapest at launch, and a parameter stored in another one is
 * ParameterNotFound at boot, after the instance has been paid for.
 */
export function unpinnedParameterWarnings(loaded: Pick<LoadedSpec, "spec" | "diagnose">, chosenRegion: string): Diagnostic[] {
  const { spec } = loaded;
  const fixed = spec.region !== "" || spec.regions?.length === 1;
  if (fixed) return [];
  const where = spec.regions ? `\`regions: [${spec.regions.join(", ")}]\` lets the job run in any of them` : "`region: \"\"` lets the job run in whichever region is cheapest";
  return unqualifiedParameters(spec).map((r) =>
    loaded.diagnose(
      ["secrets", r.env],
      "secret_region_unfixed",
      `\`${referenceText(r)}\` is read in the job's region, and ${where} (now ${chosenRegion}): a parameter stored in another region is ParameterNotFound at boot, after the instance has started`,
      `name the parameter's region, \`${r.env}: ssm:<region>:${r.ref}\` (e.g. \`ssm:${chosenRegion}:${r.ref}\`), or pin the job's with \`region: <the parameter's region>\``,
      "warning",
    ),
  );
}

