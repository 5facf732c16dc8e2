/**
 * `spotjob plan <spec> [--json]`: the dry run, offline and without
 * credentials. Exit 0 ok, 2 invalid spec or unsupported provider, 3 cost
 * guard violated, 1 anything else.
 */
import { readFileSync } from "node:fs";
import { formatUsd } from "../../core/catalog/format";
import { formatHours, type GuardReport } from "../../core/guards/cost";
import type { Offer } from "../../core/offers/offer";
import type { Selection } from "../../core/offers/select";
import { resolve } from "node:path";
import { planFile, type Plan } from "../../core/plan/plan";
import type { RecordedResource } from "../../infra/preview/recording-mocks";
import { previewResources, ProgramError } from "../../infra/preview/resources";
import { formatPath, type Diagnostic } from "../../core/jobspec/diagnostics";
import type { LoadedSpec } from "../../core/jobspec/load";
import { EXIT } from "../exit-codes";
import { printDiagnostics } from "../render/diagnostics";
import { style } from "../render/style";
import { renderTable } from "../render/table";

const EXIT_OF: Record<Plan["outcome"], number> = { ok: EXIT.ok, guard_violated: EXIT.guardViolated, invalid: EXIT.invalidSpec, error: EXIT.error };
const TABLE_ROWS = 12;

export async function planCommand(file: string, options: { json: boolean; catalogFile?: string; resources?: boolean }): Promise<number> {
  const plan = planFile(file, { catalogFile: options.catalogFile });
  let resources: RecordedResource[] | undefined;
  if (options.resources && plan.outcome === "ok") {
    try {
      resources = await previewResources(file, options.catalogFile ? { catalog: resolve(options.catalogFile) } : {});
    } catch (e) {
      if (!(e instanceof ProgramError)) throw e;
      // Found only by running the program (an over-size workdir): as much the spec's fault as a guard.
      if (options.json) process.stdout.write(`${JSON.stringify({ ...planJson(plan), ok: false, error: { message: e.message } }, null, 2)}\n`);
      else process.stderr.write(`${e.message}\n`);
      return EXIT.invalidSpec;
    }
  }
  if (options.json) process.stdout.write(`${JSON.stringify({ ...planJson(plan), ...(resources ? { resources: resources.map(({ type, name }) => ({ type, name })) } : {}) }, null, 2)}\n`);
  else {
    printPlan(file, plan);
    if (resources) printResources(resources);
  }
  return EXIT_OF[plan.outcome];
}

function printResources(resources: RecordedResource[]): void {
  const s = style();
  const width = Math.max(...resources.map((r) => r.type.length));
  const lines = resources.map((r) => `  ${r.type.padEnd(width)}  ${r.name}`);
  process.stdout.write(`\n${s.bold(`Resources \`pulumi up\` would create (${resources.length})`)} ${s.dim("- the program run under mocks: no credentials, no cloud calls")}\n${lines.join("\n")}\n`);
}

/** `{ok, spec, chosen, fallback, offers, guards, warnings}` or `{ok: false, error: {...}, ...}`. */
export function planJson(plan: Plan): Record<string, unknown> {
  const diag = (d: Diagnostic) => ({ code: d.code, message: d.message, hint: d.hint, file: d.file, line: d.line, column: d.column, path: d.path });
  const body: Record<string, unknown> = {};
  if ("loaded" in plan && plan.loaded) {
    body.spec = plan.loaded.spec;
    if (plan.loaded.sweepItems) body.sweep = { items: plan.loaded.sweepItems.length, parallel: plan.loaded.spec.sweep!.parallel };
  }
  if ("selection" in plan) {
    const s = plan.selection;
    Object.assign(body, s.local ? { local: true, chosen: null, fallback: null, offers: [] } : { market: s.market, chosen: s.chosen, fallback: s.fallback, offers: s.feasible, capacity_types: s.capacityTypes, catalog: s.catalog });
    // Paths as the diagnostics spell them ("cost.max_total_budget"): one form everywhere in the output.
    Object.assign(body, { guards: plan.guards.guards.map((g) => ({ ...g, path: formatPath(g.path) })), budget: plan.guards.budget, runtime_cap_minutes: plan.guards.runtimeCapMinutes, runtime_cap_source: plan.guards.runtimeCapSource });
  }
  body.warnings = plan.warnings.map(diag);
  if (plan.outcome === "ok") return { ok: true, ...body };
  const [first, ...rest] = plan.errors;
  return { ok: false, error: diag(first), ...(rest.length ? { errors: plan.errors.map(diag) } : {}), ...body };
}

function printPlan(file: string, plan: Plan): void {
  const source = "loaded" in plan && plan.loaded ? plan.loaded.source.text : "text" in plan ? plan.text : undefined;
  printDiagnostics(plan.warnings, source ?? safeRead(file));
  if (plan.outcome === "invalid" || plan.outcome === "error") {
    // Errors in another file (a --catalog override) are shown with that file's lines.
    const spec = source ?? safeRead(file);
    printDiagnostics(plan.errors, (d) => (d.file === file || d.file === ("loaded" in plan ? plan.loaded?.file : undefined) ? spec : safeRead(d.file)));
    return;
  }
  const s = style();
  const { loaded, selection, guards } = plan;
  const out: string[] = [];
  out.push(`${s.bold(`Job ${loaded.spec.name}`)}  (${file})`);
  out.push(summary(loaded, selection));
  out.push("");
  if (!selection.local) {
    out.push(offerTable(selection));
    out.push(s.dim(`Prices: ${selection.catalog.source}, ${selection.catalog.date}${selection.catalog.overrideFile ? `; overridden by ${selection.catalog.overrideFile}` : ""}. ≤ = no published spot price: bounded by on-demand.`));
    out.push("");
  }
  out.push(s.bold("Cost guards"));
  for (const g of guards.guards) out.push(`  ${g.ok ? s.green("ok  ") : s.red("FAIL")} ${g.message}`);
  out.push(...budgetLines(loaded, guards));
  process.stdout.write(`${out.join("\n")}\n`);
  if (plan.outcome === "guard_violated") {
    process.stderr.write("\n");
    printDiagnostics(plan.errors, source);
  }
}

function summary(loaded: LoadedSpec, selection: Selection): string {
  const { spec } = loaded;
  const sweep = loaded.sweepItems ? ` · sweep of ${loaded.sweepItems.length} items, ${spec.sweep!.parallel === "gpus" ? "one per GPU" : `${spec.sweep!.parallel} at a time`}` : "";
  if (selection.local) return `provider local: runs on this machine, no cloud cost${sweep}`;
  const fallback = selection.fallback ? `, on-demand fallback after ${spec.spot_fallback_after_minutes} min without spot` : "";
  return `provider ${spec.provider} · ${spec.gpu_type} × ${spec.gpu_count} · ${selection.market}${fallback}${sweep}`;
}

function offerTable(selection: Extract<Selection, { local: false }>): string {
  const { chosen, fallback, feasible, market } = selection;
  const same = (a: Offer | null, b: Offer) => a !== null && a.instanceType === b.instanceType && a.region === b.region;
  const rows = feasible.slice(0, TABLE_ROWS);
  for (const extra of [chosen, fallback]) if (extra && !rows.some((o) => same(extra, o))) rows.push(extra);
  const body = rows.map((o) => {
    const marks = [same(chosen, o) ? `✔ ${market}` : "", same(fallback, o) ? "fallback (on-demand)" : ""].filter(Boolean).join(", ");
    return [
      `${o.cloud}/${o.region}`,
      o.instanceType,
      String(o.vcpus),
      String(o.memoryGb),
      `${o.gpu}:${o.gpuCount}`,
      `${o.spotEstimated ? "≤" : ""}${formatUsd(o.spotPerHour)}`,
      formatUsd(o.onDemandPerHour),
      marks,
    ];
  });
  const more = feasible.length - Math.min(feasible.length, TABLE_ROWS);
  return renderTable(["INFRA", "INSTANCE", "vCPUs", "Mem(GB)", "GPUS", "SPOT $/h", "ON-DEMAND $/h", "CHOSEN"], body) + (more > 0 ? `\n… ${more} more feasible offers (--json lists all)` : "");
}

function budgetLines(loaded: LoadedSpec, guards: GuardReport): string[] {
  if (guards.runtimeCapMinutes === null) return [];
  const cap = formatHours(guards.runtimeCapMinutes / 60);
  return [
    guards.runtimeCapSource === "spec"
      ? `Runtime cap: ${cap} (max_runtime_minutes: ${loaded.spec.max_runtime_minutes})`
      : `Runtime cap: ${cap}, what the budget buys at ${formatUsd(guards.budget.highestPricePerHour)}/h (set max_runtime_minutes to choose another)`,
  ];
}

function safeRead(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}
