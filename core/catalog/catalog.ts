/**
 * The price catalog of a cloud: the bundled data (dated, with its source),
 * optionally merged with a user's override file of newer prices or extra
 * instance types.
 */
import { readFileSync, statSync } from "node:fs";
import { isMap, isScalar } from "yaml";
import type { z } from "zod";
import { formatDiagnostic, formatPath, type Diagnostic, type PathPart } from "../jobspec/diagnostics";
import { describeValue } from "../jobspec/issues";
import { closest } from "../jobspec/suggest";
import { YamlSource } from "../jobspec/yaml-source";
// Imported rather than read at run time, so that esbuild bundles them into the CLI.
import awsData from "./aws.json";
import gcpData from "./gcp.json";
import { CatalogDataSchema, CatalogOverrideSchema, CatalogOfferSchema, RegionPricesSchema, type CatalogData, type CatalogOverride, type Cloud } from "./schema";

/** A catalog ready for offer selection. */
export interface Catalog extends CatalogData {
  /** The override file merged into the bundled data, if any. */
  overrideFile?: string;
  /** Instance types that the override changed or added, in file order. */
  overridden: string[];
}

/** Override files are a few kilobytes; anything near this is not a price list. */
export const MAX_OVERRIDE_BYTES = 4 * 1024 * 1024;

/** Thrown when a catalog cannot be loaded; each diagnostic names the file, line and field. */
export class CatalogError extends Error {
  constructor(
    readonly diagnostics: Diagnostic[],
    text?: string,
  ) {
    super(diagnostics.map((d) => formatDiagnostic(d, text)).join("\n"));
    this.name = "CatalogError";
  }
}

const BUNDLED: Record<Cloud, unknown> = { aws: awsData, gcp: gcpData };
const validated = new Map<Cloud, CatalogData>();

/** The catalog shipped with spotjob for `cloud` (a fresh copy: callers may change it). */
export function bundledCatalog(cloud: Cloud): Catalog {
  let data = validated.get(cloud);
  if (!data) {
    const parsed = CatalogDataSchema.safeParse(BUNDLED[cloud]);
    // The bundled files are ours: a failure here is a bug in the release, not a user error.
    if (!parsed.success) throw new Error(`bundled ${cloud} catalog is invalid: ${parsed.error.message}`);
    data = parsed.data;
    validated.set(cloud, data);
  }
  return { ...structuredClone(data), overridden: [] };
}

/**
 * The catalog for `cloud`, with `overrideFile` (JSON or YAML) merged in when
 * given. Throws `CatalogError` when the override cannot be read or is invalid.
 */
export function loadCatalog(cloud: Cloud, overrideFile?: string): Catalog {
  const base = bundledCatalog(cloud);
  if (overrideFile === undefined) return base;
  return applyCatalogOverride(base, readOverrideText(overrideFile), overrideFile);
}

/** Merges an override given as text (`file` names it in errors). Throws `CatalogError`. */
export function applyCatalogOverride(base: Catalog, text: string, file: string): Catalog {
  const { override, source } = parseCatalogOverride(text, file);
  const errors: Diagnostic[] = [];
  const report = (path: readonly PathPart[], code: string, message: string, hint?: string, atKey = false) => {
    const pos = source.locate(path, atKey ? "key" : "value");
    errors.push({ severity: "error", code, message, hint, file, line: pos.line, column: pos.column, path: formatPath(path) });
  };

  if (override.cloud !== undefined && override.cloud !== base.cloud) {
    report(["cloud"], "catalog_wrong_cloud", `this override is for ${override.cloud}, but the job runs on ${base.cloud}`, `use an override file for ${base.cloud}, or remove \`cloud:\``);
  }
  const merged: Catalog = {
    ...base,
    date: override.date ?? base.date,
    source: override.source ?? `${base.source}; overrides from ${file}`,
    price_note: override.price_note ?? base.price_note,
    offers: base.offers.map((o) => structuredClone(o)),
    overrideFile: file,
    overridden: [],
  };
  const byType = new Map(merged.offers.map((o) => [o.instance_type, o]));

  /** Missing fields of a new entry, as one error on the entry; anything else as itself. */
  const reportIncomplete = (issues: readonly Issue[], at: PathPart[], what: string, need: string) => {
    const missing = issues.filter((issue) => issue.input === undefined && issue.path.length === 1).map((issue) => String(issue.path[0]));
    if (missing.length) report(at, "catalog_incomplete", `${what}, and it is missing ${missing.join(", ")}`, need);
    for (const issue of issues.filter((i) => !(i.input === undefined && i.path.length === 1))) {
      const x = explainCatalogIssue(issue);
      report([...at, ...x.path], "catalog_invalid", x.message, x.hint, x.atKey);
    }
  };

  override.offers.forEach((change, i) => {
    const at: PathPart[] = ["offers", i];
    if (merged.overridden.includes(change.instance_type)) {
      report([...at, "instance_type"], "catalog_duplicate", `${change.instance_type} appears twice in the override`, "merge the two entries into one");
      return;
    }
    merged.overridden.push(change.instance_type);
    const existing = byType.get(change.instance_type);
    if (!existing) {
      // A new instance type must be complete: nothing in the bundled data fills its gaps.
      const parsed = CatalogOfferSchema.safeParse(change, { reportInput: true });
      if (!parsed.success) {
        reportIncomplete(parsed.error.issues, at, `${change.instance_type} is not in the bundled ${base.cloud} catalog`, "every field is needed");
        return;
      }
      merged.offers.push(parsed.data);
      byType.set(parsed.data.instance_type, parsed.data);
      return;
    }
    const { regions, ...fields } = change;
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) (existing as Record<string, unknown>)[key] = value;
    }
    for (const [region, prices] of Object.entries(regions ?? {})) {
      const old = existing.regions[region];
      if (old) {
        existing.regions[region] = { ...old, ...definedOnly(prices) };
        continue;
      }
      const parsed = RegionPricesSchema.safeParse(prices, { reportInput: true });
      if (!parsed.success) {
        reportIncomplete(parsed.error.issues, [...at, "regions", region], `${region} is new for ${change.instance_type}`, "zones, on_demand and spot are needed (`spot: null` if it is not known)");
        continue;
      }
      existing.regions[region] = parsed.data;
    }
  });
  checkZones(override, report);
  // Each part was validated on the way in (bundled data, changed fields, new entries), so the merge needs no second pass.
  if (errors.length) throw new CatalogError(sortByLine(errors), text);

  return merged;
}

/** Parses and validates an override file's text. Throws `CatalogError` with located diagnostics. */
export function parseCatalogOverride(text: string, file: string): { override: CatalogOverride; source: YamlSource } {
  const fail = (line: number, column: number, path: string, code: string, message: string, hint?: string): never => {
    throw new CatalogError([{ severity: "error", code, message, hint, file, line, column, path }], text);
  };
  if (Buffer.byteLength(text) > MAX_OVERRIDE_BYTES) fail(0, 0, "", "catalog_too_large", `the catalog override is larger than ${MAX_OVERRIDE_BYTES / 1048576} MiB`);
  // YAML 1.2 reads JSON too, with the same positions.
  const source = YamlSource.parse(file, text);
  const syntax = source.doc.errors[0];
  if (syntax) {
    const pos = source.position(syntax.pos[0]);
    fail(pos.line, pos.column, "", "catalog_syntax", `invalid ${/^\s*[{[]/.test(text) ? "JSON" : "YAML"}: ${syntax.message.replace(/ at line \d+, column \d+[\s\S]*$/, "")}`);
  }
  const contents = source.doc.contents;
  if (contents === null || (isScalar(contents) && (contents.value === null || contents.value === ""))) {
    fail(1, 1, "", "catalog_empty", "the catalog override is empty", "give at least `offers:` with the instance types to change");
  }
  if (!isMap(contents)) {
    const pos = source.locate([]);
    fail(pos.line, pos.column, "", "catalog_invalid", "a catalog override is a mapping with an `offers:` list", "see core/catalog/aws.json for the shape");
  }
  let data: unknown;
  try {
    data = source.doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    fail(1, 1, "", "catalog_syntax", `cannot read the file: ${(e as Error).message}`);
  }
  const parsed = CatalogOverrideSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue): Diagnostic => {
      const x = explainCatalogIssue(issue);
      const pos = source.locate(x.path, x.atKey ? "key" : "value");
      return { severity: "error", code: "catalog_invalid", message: x.message, hint: x.hint, file, line: pos.line, column: pos.column, path: formatPath(x.path) };
    });
    throw new CatalogError(sortByLine(errors), text);
  }
  return { override: parsed.data, source };
}

function readOverrideText(file: string): string {
  const fail = (code: string, message: string): never => {
    throw new CatalogError([{ severity: "error", code, message, file, line: 0, column: 0, path: "" }]);
  };
  try {
    const stat = statSync(file);
    if (!stat.isFile()) fail("not_a_file", "the catalog override is not a file");
    if (stat.size > MAX_OVERRIDE_BYTES) fail("catalog_too_large", `the catalog override is larger than ${MAX_OVERRIDE_BYTES / 1048576} MiB`);
    return readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof CatalogError) throw e;
    const err = e as NodeJS.ErrnoException;
    return fail(err.code === "ENOENT" ? "not_found" : "unreadable", err.code === "ENOENT" ? "no such catalog override file" : `cannot read the catalog override (${err.code ?? err.message})`);
  }
}

/** Zones must lie in their region (`us-east-1a` in `us-east-1`): checked on the override so errors point into it. */
function checkZones(override: CatalogOverride, report: (path: readonly PathPart[], code: string, message: string) => void): void {
  override.offers.forEach((offer, i) => {
    for (const [region, prices] of Object.entries(offer.regions ?? {})) {
      prices.zones?.forEach((zone, j) => {
        if (!zone.startsWith(region)) report(["offers", i, "regions", region, "zones", j], "catalog_invalid", `zone ${zone} is not in region ${region}`);
      });
    }
  });
}

interface Explained {
  path: PathPart[];
  message: string;
  hint?: string;
  atKey?: boolean;
}

type Issue = z.core.$ZodIssue & { input?: unknown };

/**
 * A zod issue about a catalog file, in plain words. (The job spec's
 * `explainIssue` suggests job-spec keys and examples, which would mislead here.)
 */
function explainCatalogIssue(issue: Issue): Explained {
  const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)) as PathPart[];
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    const known = knownKeysAt(path);
    const guess = closest(key, known);
    return { path: [...path, key], message: `unknown field \`${key}\``, hint: guess ? `did you mean \`${guess}\`?` : `known fields here: ${known.join(", ")}`, atKey: true };
  }
  if (issue.input === undefined) return { path, message: "is required" };
  const got = describeValue(issue.input);
  switch (issue.code) {
    case "invalid_type": {
      const expected = issue.expected === "int" ? "a whole number" : issue.expected === "record" || issue.expected === "object" ? "a mapping" : issue.expected === "array" ? "a list" : `a ${issue.expected}`;
      return { path, message: `expected ${expected}, got ${got}` };
    }
    case "invalid_value": {
      const values = issue.values.map(String);
      const guess = typeof issue.input === "string" ? closest(issue.input, values) : undefined;
      return { path, message: `expected ${values.length === 1 ? values[0] : `one of ${values.join(", ")}`}, got ${got}`, hint: guess ? `did you mean \`${guess}\`?` : undefined };
    }
    case "too_small":
      if (issue.origin === "array") return { path, message: `needs at least ${issue.minimum} entry` };
      if (issue.origin === "string") return { path, message: "must not be empty" };
      return { path, message: `must be ${issue.inclusive === false ? "greater than" : "at least"} ${issue.minimum}, got ${got}` };
    case "too_big":
      return { path, message: `must be at most ${issue.maximum}, got ${got}`, hint: "prices are USD per hour" };
    case "invalid_format":
      return { path, message: `expected ${issue.path.includes("zones") ? "a zone name such as us-east-1a" : issue.format === "regex" ? "a lowercase name such as us-east-1 or g5.xlarge" : issue.format}, got ${got}` };
    default:
      return { path, message: issue.message };
  }
}

/** The field names allowed where an unknown field was found, for "did you mean". */
function knownKeysAt(path: PathPart[]): string[] {
  if (path[0] === "offers" && path[2] === "regions" && path.length === 4) return Object.keys(RegionPricesSchema.shape);
  if (path[0] === "offers" && path.length === 2) return Object.keys(CatalogOfferSchema.shape);
  return Object.keys(CatalogOverrideSchema.shape);
}

function definedOnly<T extends object>(x: T): Partial<T> {
  return Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function sortByLine(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.line - b.line || a.column - b.column);
}

