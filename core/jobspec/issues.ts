/**
 * zod issues → plain-language messages: what was expected, what was found,
 * and a concrete fix taken from the field's documented example.
 */
import type { z } from "zod";
import type { PathPart } from "./diagnostics";
import { fieldExample, KNOWN_KEYS } from "./schema";
import { closest } from "./suggest";

type Issue = z.core.$ZodIssue & { input?: unknown };

export interface Explained {
  path: PathPart[];
  code: string;
  message: string;
  hint?: string;
  /** Point at the key rather than the value (unknown keys). */
  atKey?: boolean;
}

const FORMATS: Record<string, string> = {
  name: "a job name of lowercase letters, digits and '-', 2-40 characters, starting with a letter",
  region: "a region name such as us-east-1 or us-central1",
  regions: "a region name such as us-east-1 or us-central1",
  zones: "a zone name such as us-east-1a or us-central1-a",
  instance_type: "an instance type such as g5.xlarge or g2-standard-4",
  public_key: "an OpenSSH public key line (\"ssh-ed25519 AAAA... you@host\")",
  cidrs: "an IPv4 CIDR block such as 203.0.113.7/32",
  envs: "an environment variable name (letters, digits and _, not starting with a digit)",
  secrets: "an environment variable name (letters, digits and _, not starting with a digit)",
};

const TYPE_WORDS: Record<string, string> = {
  int: "a whole number",
  number: "a number",
  string: "text",
  boolean: "true or false",
  object: "a mapping",
  record: "a mapping",
  array: "a list",
  literal: "a fixed value",
};

/** "a list", "the text \"abc\"", "null": what the user actually wrote. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "nothing (null)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "number") return Number.isInteger(value) ? `the number ${value}` : `the number ${value}`;
  return `${typeof value} ${String(value)}`;
}

/** The value of an entry under `secrets:`. */
function isSecretValue(path: readonly PathPart[]): boolean {
  return path[0] === "secrets" && path.length >= 2;
}

/** "text (not shown)", "a number (not shown)": what was written, without the value. */
function describeKind(value: unknown): string {
  if (value === null || value === undefined || Array.isArray(value) || typeof value === "object") return describeValue(value);
  return `${typeof value === "string" ? "text" : typeof value === "number" ? "a number" : typeof value} (not shown)`;
}

function exampleHint(path: PathPart[]): string | undefined {
  // A secret's entry has no example of its own: the section's shows the form.
  const stringPath = isSecretValue(path) ? ["secrets"] : path.filter((p): p is string => typeof p === "string");
  const example = fieldExample(stringPath);
  return example ? `for example \`${example}\`` : undefined;
}

function formatFor(path: PathPart[]): string | undefined {
  for (let i = path.length - 1; i >= 0; i--) {
    const part = path[i];
    if (typeof part === "string" && FORMATS[part]) return FORMATS[part];
  }
  return undefined;
}

function bound(issue: { origin?: string; inclusive?: boolean }, n: number | bigint, side: "min" | "max"): string {
  const v = Number(n);
  switch (issue.origin) {
    case "string":
      return side === "min" ? (v <= 1 ? "must not be empty" : `needs at least ${v} characters`) : `must be at most ${v} characters`;
    case "array":
      return side === "min" ? `needs at least ${v} ${v === 1 ? "entry" : "entries"}` : `allows at most ${v} entries`;
    default:
      if (side === "min") return issue.inclusive === false ? `must be greater than ${v}` : `must be at least ${v}`;
      return issue.inclusive === false ? `must be less than ${v}` : `must be at most ${v.toLocaleString("en-US")}`;
  }
}

function expectedOf(issue: Issue): string[] {
  if (issue.code === "invalid_type") return [TYPE_WORDS[issue.expected] ?? issue.expected];
  if (issue.code === "invalid_value") return issue.values.map((v) => JSON.stringify(v));
  if (issue.code === "invalid_union") return issue.errors.flatMap((branch) => branch.flatMap((i) => expectedOf(i as Issue)));
  return [];
}

export function explainIssue(issue: Issue): Explained[] {
  const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)) as PathPart[];
  // What is under `secrets:` may be a secret written by mistake: never repeat it.
  const got = isSecretValue(path) ? describeKind(issue.input) : describeValue(issue.input);
  if (issue.input === undefined && issue.code !== "unrecognized_keys") {
    return [{ path, code: "missing", message: "is required", hint: exampleHint(path) }];
  }
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => explainUnknownKey(path, key));
    case "invalid_type": {
      const expected = TYPE_WORDS[issue.expected] ?? issue.expected;
      let hint = exampleHint(path);
      if (typeof issue.input === "string" && (issue.expected === "number" || issue.expected === "int") && issue.input.trim() !== "" && !Number.isNaN(Number(issue.input))) {
        hint = `remove the quotes: write ${issue.input.trim()} instead of "${issue.input}"`;
      }
      if (issue.expected === "int" && typeof issue.input === "number") {
        return [{ path, code: "invalid_type", message: `expected a whole number, got ${issue.input}`, hint }];
      }
      if (issue.expected === "object" && !hint) hint = `write its fields indented under \`${String(path[path.length - 1] ?? "")}:\``;
      return [{ path, code: "invalid_type", message: `expected ${expected}, got ${got}`, hint }];
    }
    case "invalid_value": {
      const values = issue.values.map((v) => String(v));
      const guess = typeof issue.input === "string" ? closest(issue.input, values) : undefined;
      return [
        {
          path,
          code: "invalid_value",
          message: `expected ${values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${values.join(", ")}`}, got ${got}`,
          hint: guess ? `did you mean \`${guess}\`?` : exampleHint(path),
        },
      ];
    }
    case "invalid_union": {
      const expected = [...new Set(expectedOf(issue))];
      const values = issue.errors.flatMap((b) => b.flatMap((i) => (i.code === "invalid_value" ? i.values.map(String) : [])));
      const guess = typeof issue.input === "string" ? closest(issue.input, values) : undefined;
      return [
        {
          path,
          code: "invalid_type",
          message: `expected ${expected.join(" or ")}, got ${got}`,
          hint: guess ? `did you mean \`${guess}\`?` : exampleHint(path),
        },
      ];
    }
    case "too_small":
      return [{ path, code: "too_small", message: `${bound(issue, issue.minimum, "min")}, got ${issue.origin === "array" ? `${(issue.input as unknown[] | undefined)?.length ?? 0} entries` : got}`, hint: exampleHint(path) }];
    case "too_big":
      return [
        {
          path,
          code: "too_big",
          message: `${bound(issue, issue.maximum, "max")}, got ${issue.origin === "array" ? `${(issue.input as unknown[] | undefined)?.length ?? 0} entries` : got}`,
          hint: issue.origin === "number" ? "this looks like a typo; spotjob rejects absurd values rather than spend money on them" : exampleHint(path),
        },
      ];
    case "invalid_format": {
      const expected = formatFor(path) ?? `text matching ${issue.pattern ?? issue.format}`;
      return [{ path, code: "invalid_format", message: `expected ${expected}, got ${got}`, hint: exampleHint(path) }];
    }
    case "invalid_key": {
      const expected = formatFor(path.slice(0, -1)) ?? "a valid key";
      return [{ path, code: "invalid_key", message: `key ${JSON.stringify(String(issue.input))}: expected ${expected}`, atKey: true }];
    }
    default:
      return [{ path, code: issue.code, message: issue.message }];
  }
}

function explainUnknownKey(parent: PathPart[], key: string): Explained {
  const parentPath = parent.filter((p): p is string => typeof p === "string").join(".");
  const known = KNOWN_KEYS[parentPath] ?? [];
  const path = [...parent, key];
  const where = parentPath ? `under \`${parentPath}\`` : "at the top level";
  const guess = closest(key, known);
  if (guess) return { path, code: "unknown_key", message: `unknown key \`${key}\` ${where}`, hint: `did you mean \`${guess}\`?`, atKey: true };
  // A known key in the wrong section: `max_cost_per_hour` at the top level, say.
  for (const [section, keys] of Object.entries(KNOWN_KEYS)) {
    if (section !== parentPath && keys.includes(key)) {
      const target = section === "" ? "the top level" : `\`${section}:\``;
      return { path, code: "unknown_key", message: `unknown key \`${key}\` ${where}`, hint: `\`${key}\` belongs under ${target}`, atKey: true };
    }
  }
  return {
    path,
    code: "unknown_key",
    message: `unknown key \`${key}\` ${where}`,
    hint: `known keys here: ${known.join(", ")}`,
    atKey: true,
  };
}
