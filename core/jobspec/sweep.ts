/**
 * Sweep expansion: `items` or `grid` into keyed items, and the `{field}`
 * templates of `key` and `command`. Pure functions; the runtime executes.
 */
import { createHash } from "node:crypto";
import { LIMITS, type SweepSpec } from "./schema";
import { closest } from "./suggest";
import type { PathPart } from "./diagnostics";

export type SweepFields = Record<string, unknown>;

export interface SweepItem {
  /** Stable identity: survives restarts and edits that only reorder items. */
  key: string;
  /** Position in the spec's expansion order. */
  index: number;
  fields: SweepFields;
}

export interface SweepProblem {
  path: PathPart[];
  code: string;
  message: string;
  hint?: string;
}

export type Expansion = { ok: true; items: SweepItem[] } | { ok: false; problems: SweepProblem[] };

const MAX_KEY_LENGTH = 200;

/** JSON with object keys sorted at every level: equal items give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/** The default key: a short hash of the item's canonical JSON. */
export function hashKey(fields: SweepFields): string {
  return createHash("sha256").update(canonicalJson(fields)).digest("hex").slice(0, 16);
}

/**
 * POSIX shell quoting, safe for any string including quotes and newlines.
 * A plain word (numbers, names, paths) stays bare, as Python's shlex.quote
 * does, so `{n}` also works inside "..." and $(( )).
 */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

type Token = { literal: string } | { field: string };

/**
 * `{name}` and `{a.b}` are fields; `{{` and `}}` are literal braces; `${...}`
 * and anything that is not an identifier path (`{a,b}`, `{ cmd; }`) stay shell.
 */
const parsedTemplates = new Map<string, Token[]>();

export function parseTemplate(template: string): Token[] {
  // Keys and commands render once per item: parse each template once.
  let tokens = parsedTemplates.get(template);
  if (!tokens) {
    tokens = tokenize(template);
    if (parsedTemplates.size < 1000) parsedTemplates.set(template, tokens);
  }
  return tokens;
}

function tokenize(template: string): Token[] {
  const tokens: Token[] = [];
  let literal = "";
  const field = /^\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}/;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if ((c === "{" || c === "}") && template[i + 1] === c) {
      literal += c;
      i++;
      continue;
    }
    if (c === "{" && template[i - 1] !== "$") {
      const m = field.exec(template.slice(i, i + 200));
      if (m) {
        if (literal) tokens.push({ literal });
        literal = "";
        tokens.push({ field: m[1] });
        i += m[0].length - 1;
        continue;
      }
    }
    literal += c;
  }
  if (literal) tokens.push({ literal });
  return tokens;
}

export function templateFields(template: string): string[] {
  return parseTemplate(template).flatMap((t) => ("field" in t ? [t.field] : []));
}

function lookup(fields: SweepFields, path: string): { found: boolean; value?: unknown } {
  let value: unknown = fields;
  for (const part of path.split(".")) {
    if (!value || typeof value !== "object" || !Object.prototype.hasOwnProperty.call(value, part)) return { found: false };
    value = (value as Record<string, unknown>)[part];
  }
  return { found: true, value };
}

function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return canonicalJson(value);
  return String(value);
}

function render(template: string, fields: SweepFields, quote: (s: string) => string): string {
  return parseTemplate(template)
    .map((t) => ("field" in t ? quote(asText(lookup(fields, t.field).value)) : t.literal))
    .join("");
}

/** The shell command for one item: every `{field}` value is shell-quoted. */
export function renderCommand(command: string, fields: SweepFields): string {
  return render(command, fields, shellQuote);
}

/** The key of one item under the spec's `key` (a template or a field name). */
export function renderKey(key: string | undefined, fields: SweepFields): string {
  if (key === undefined) return hashKey(fields);
  const template = key.includes("{") ? key : `{${key}}`;
  return render(template, fields, (s) => s);
}

/** Number of items a grid expands to, without expanding it. */
export function gridSize(grid: Record<string, unknown[]>): number {
  return Object.values(grid).reduce((n, values) => n * values.length, 1);
}

function* gridProduct(grid: Record<string, unknown[]>): Generator<SweepFields> {
  const names = Object.keys(grid);
  const indices = names.map(() => 0);
  if (names.length === 0) return;
  for (;;) {
    const item: SweepFields = {};
    names.forEach((name, i) => (item[name] = grid[name][indices[i]]));
    yield item;
    // Last field varies fastest, like itertools.product.
    let i = names.length - 1;
    while (i >= 0 && ++indices[i] === grid[names[i]].length) indices[i--] = 0;
    if (i < 0) return;
  }
}

/** Expands and validates a sweep: templates refer to real fields, keys are unique. */
export function expandSweep(sweep: SweepSpec): Expansion {
  const problems: SweepProblem[] = [];
  const source: "items" | "grid" = sweep.items ? "items" : "grid";
  if (sweep.items && sweep.grid) {
    return {
      ok: false,
      problems: [{ path: ["sweep", "grid"], code: "conflict", message: "give either `items` or `grid`, not both", hint: "keep one of the two lists" }],
    };
  }
  if (sweep.command !== undefined && sweep.worker !== undefined) {
    return {
      ok: false,
      problems: [{ path: ["sweep", "worker"], code: "conflict", message: "give either `command` or `worker`, not both", hint: "`command` runs a process per item; `worker` keeps one process per slot" }],
    };
  }
  if (sweep.command === undefined && sweep.worker === undefined) {
    return {
      ok: false,
      problems: [{ path: ["sweep"], code: "missing", message: "a sweep needs `command` (a process per item) or `worker` (one process per slot)", hint: 'add e.g. `command: "python3 train.py --lr {lr}"`' }],
    };
  }
  if (!sweep.items && !sweep.grid) {
    return {
      ok: false,
      problems: [
        { path: ["sweep"], code: "missing", message: "a sweep needs `items` or `grid`", hint: "add e.g. `grid: {lr: [0.1, 0.01]}`" },
      ],
    };
  }
  if (sweep.grid) {
    const empty = Object.keys(sweep.grid).length === 0;
    if (empty) return { ok: false, problems: [{ path: ["sweep", "grid"], code: "too_small", message: "the grid has no fields", hint: "add e.g. `lr: [0.1, 0.01]`" }] };
    const size = gridSize(sweep.grid);
    if (size > LIMITS.sweepItems) {
      return {
        ok: false,
        problems: [
          {
            path: ["sweep", "grid"],
            code: "too_big",
            message: `the grid expands to ${size.toLocaleString("en-US")} items; the limit is ${LIMITS.sweepItems.toLocaleString("en-US")}`,
            hint: "split the sweep into several jobs or shorten some value lists",
          },
        ],
      };
    }
  }
  const all: SweepFields[] = sweep.items ?? [...gridProduct(sweep.grid!)];
  const itemPath = (i: number): PathPart[] => (source === "items" ? ["sweep", "items", i] : ["sweep", "grid"]);

  const templates: Array<["key" | "command", string]> = sweep.command !== undefined ? [["command", sweep.command]] : [];
  if (sweep.key !== undefined) templates.push(["key", sweep.key.includes("{") ? sweep.key : `{${sweep.key}}`]);
  for (const [field, template] of templates) {
    const names = templateFields(template);
    for (let i = 0; i < all.length && problems.length < 20; i++) {
      for (const name of names) {
        if (lookup(all[i], name).found) continue;
        const known = Object.keys(all[i]);
        const guess = closest(name, known);
        problems.push({
          path: ["sweep", field],
          code: "unknown_field",
          message: `{${name}} is not a field of item ${i} (its fields: ${known.join(", ") || "none"})`,
          hint: guess
            ? `did you mean {${guess}}?`
            : `give every item a \`${name}\` field${field === "command" ? ", or write {{ and }} for literal braces" : ""}`,
        });
      }
      if (problems.length) break;
    }
  }
  if (problems.length) return { ok: false, problems };

  const seen = new Map<string, number>();
  const items: SweepItem[] = [];
  for (let i = 0; i < all.length; i++) {
    const key = renderKey(sweep.key, all[i]);
    if (key.length === 0 || key.length > MAX_KEY_LENGTH || /[\u0000-\u001f]/.test(key)) {
      problems.push({
        path: itemPath(i),
        code: "invalid_key",
        message: `item ${i} has key ${JSON.stringify(key.slice(0, 60))}: a key must be 1-${MAX_KEY_LENGTH} characters without control characters`,
        hint: "choose a `key` template built from short fields",
      });
      break;
    }
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({
        path: itemPath(i),
        code: "duplicate_key",
        message: `item ${i} has the same key ${JSON.stringify(key)} as item ${first}; keys must be unique`,
        hint: sweep.key === undefined ? "remove the duplicate item" : `include more fields in \`key\`, e.g. "${sweep.key.includes("{") ? sweep.key : `{${sweep.key}}`}-{seed}"`,
      });
      break;
    }
    seen.set(key, i);
    items.push({ key, index: i, fields: all[i] });
  }
  return problems.length ? { ok: false, problems } : { ok: true, items };
}
