/**
 * Loading a job spec: bytes → YAML (with positions) → zod → cross-field
 * checks → sweep expansion. Never throws for anything a user can write; every
 * problem comes back as a located diagnostic.
 */
import { readFileSync, statSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import { isMap, isScalar, visit, type Scalar } from "yaml";
import { formatPath, type Diagnostic, type PathPart, type Severity } from "./diagnostics";
import { explainIssue } from "./issues";
import { cannotLaunch, plannable, provider } from "../providers/registry";
import { JobSpecSchema, type JobSpec } from "./schema";
import { secretProblems } from "./secrets";
import { expandSweep, type SweepItem } from "./sweep";
import { YamlSource } from "./yaml-source";

/** Specs are small; a bigger file is a mistake (or an attack), not a job. */
export const MAX_SPEC_BYTES = 2 * 1024 * 1024;
const MAX_ALIASES = 100;

/** Variables the runtime owns: a spec that sets them would break resuming. */
export const RUNTIME_ENV_NAMES = ["SWEEP_SNAPSHOT_DIR", "SPOTJOB_CHECKPOINT_DIR", "SWEEP_ITEM", "SWEEP_KEY", "SWEEP_RESULT"];

export interface ResolvedSpec extends JobSpec {
  /** Always set: the spec's `name`, or one derived from its file name. */
  name: string;
}

export interface LoadedSpec {
  file: string;
  spec: ResolvedSpec;
  /** The expanded sweep, when the spec has one. */
  sweepItems?: SweepItem[];
  warnings: Diagnostic[];
  source: YamlSource;
  /** A diagnostic located at a field of this spec (for checks made after loading). */
  diagnose(path: readonly PathPart[], code: string, message: string, hint?: string, severity?: Severity): Diagnostic;
}

export type SpecResult =
  | { ok: true; loaded: LoadedSpec }
  | { ok: false; errors: Diagnostic[]; warnings: Diagnostic[]; text?: string };

/** Thrown where a result cannot be returned (the Pulumi program). */
export class SpecError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.path ? `${d.path}: ` : ""}${d.message}${d.hint ? ` (${d.hint})` : ""}`).join("\n"));
    this.name = "SpecError";
  }
}

export function loadSpecFile(file: string): SpecResult {
  const fail = (code: string, message: string, hint?: string): SpecResult => ({
    ok: false,
    errors: [{ severity: "error", code, message, hint, file, line: 0, column: 0, path: "" }],
    warnings: [],
  });
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) return fail("not_a_file", "is not a file", "give the path of a .yaml job spec");
    size = stat.size;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.code === "ENOENT"
      ? fail("not_found", "no such file", "check the path; example specs are in jobs/")
      : fail("unreadable", `cannot read the file (${err.code ?? err.message})`);
  }
  if (size > MAX_SPEC_BYTES) {
    return fail("file_too_large", `the spec is ${(size / 1048576).toFixed(1)} MiB; the limit is ${MAX_SPEC_BYTES / 1048576} MiB`, "describe large sweeps with `sweep.grid` instead of listing every item");
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return fail("unreadable", `cannot read the file (${(e as Error).message})`);
  }
  return parseSpec(text, file);
}

export function parseSpec(text: string, file: string): SpecResult {
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const at = (line: number, column: number, path: string, code: string, message: string, hint?: string, severity: Severity = "error"): Diagnostic => ({
    severity,
    code,
    message,
    hint,
    file,
    line,
    column,
    path,
  });
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) {
    return { ok: false, errors: [at(0, 0, "", "file_too_large", `the spec is larger than ${MAX_SPEC_BYTES / 1048576} MiB`, "describe large sweeps with `sweep.grid`")], warnings, text };
  }

  let source: YamlSource;
  let data: unknown;
  try {
    source = YamlSource.parse(file, text);
    // After the first syntax error the parser's later complaints are echoes of it.
    const e = source.doc.errors[0];
    if (e) {
      const pos = source.position(e.pos[0]);
      return { ok: false, errors: [at(pos.line, pos.column, "", yamlCode(e.code, e.message), yamlMessage(e.code, e.message, text, e.pos), yamlHint(e.code))], warnings, text };
    }
    const contents = source.doc.contents;
    if (contents === null || (isScalar(contents) && (contents.value === null || contents.value === ""))) {
      return { ok: false, errors: [at(1, 1, "", "empty", "the spec is empty", "start with `provider:`, `gpu_type:` and `run:` (see jobs/ for examples)")], warnings, text };
    }
    if (!isMap(contents)) {
      const pos = source.locate([]);
      return { ok: false, errors: [at(pos.line, pos.column, "", "not_a_mapping", "a job spec is a mapping of `key: value` lines at the top level", "see jobs/ for examples")], warnings, text };
    }
    keepEnvSourceText(source);
    data = source.doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    if (e instanceof ReferenceError && /alias/i.test(e.message)) {
      return { ok: false, errors: [at(1, 1, "", "alias_bomb", `the spec expands its aliases (*name) more than ${MAX_ALIASES} times`, "write the values out; aliases are meant for small repeated blocks")], warnings, text };
    }
    if (e instanceof RangeError) {
      return { ok: false, errors: [at(1, 1, "", "too_deep", "the spec is nested too deeply to read", "a job spec is at most a few levels deep")], warnings, text };
    }
    return { ok: false, errors: [at(1, 1, "", "yaml_syntax", `cannot read the YAML: ${(e as Error).message}`)], warnings, text };
  }

  const located = (path: readonly PathPart[], code: string, message: string, hint?: string, severity: Severity = "error", atKey = false, near?: readonly PathPart[]) => {
    const pos = source.locate(near ?? path, atKey ? "key" : "value");
    return at(pos.line, pos.column, formatPath(path), code, message, hint, severity);
  };

  for (const w of readYaml11Booleans(data)) warnings.push(located(w.path, "yaml11_boolean", w.message, w.hint, "warning"));
  const parsed = JobSpecSchema.safeParse(dropNulls(data), { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const x of explainIssue(issue)) errors.push(located(x.path, x.code, x.message, x.hint, "error", x.atKey));
    }
    return { ok: false, errors: sortByLine(errors), warnings, text };
  }
  const spec: ResolvedSpec = { ...parsed.data, name: parsed.data.name ?? nameFromFile(file) };
  const given = data as Record<string, unknown>;

  // Cross-field rules that a per-field schema cannot express.
  if (provider(spec.provider).launch !== "this-machine" && !spec.gpu_type) {
    errors.push(
      located(["gpu_type"], "missing", `is required with provider ${spec.provider}`, "add e.g. `gpu_type: \"L4\"`, or use `provider: local` to run on this machine", "error", false, ["provider"]),
    );
  }
  if (!spec.sweep && spec.run.trim() === "") {
    errors.push(located(["run"], "empty_run", "`run` is empty: there is nothing to execute", "give the job's shell commands, e.g. `run: python3 train.py`, or a `sweep:` section"));
  }
  if (spec.region !== "" && spec.regions) {
    errors.push(located(["regions"], "conflict", "give either `region` or `regions`, not both", "move the region into the `regions` list"));
  }
  for (const p of secretProblems(spec, RUNTIME_ENV_NAMES)) errors.push(located(p.path, p.code, p.message, p.hint, "error", p.atKey));
  let sweepItems: SweepItem[] | undefined;
  if (spec.sweep) {
    const expansion = expandSweep(spec.sweep);
    if (expansion.ok) sweepItems = expansion.items;
    else for (const p of expansion.problems) errors.push(located(p.path, p.code, p.message, p.hint));
  }
  if (errors.length) return { ok: false, errors: sortByLine(errors), warnings, text };

  // Accepted, but worth saying: silence would suggest they do something.
  if ("stream_preset" in given) {
    warnings.push(located(["stream_preset"], "ignored", "`stream_preset` is accepted for compatibility and ignored: spotjob runs batch jobs", undefined, "warning"));
  }
  if ("ports" in given && spec.ports.length > 0) {
    warnings.push(
      located(["ports"], "ignored", "`ports` are not opened: spotjob allows no inbound traffic except opt-in `ssh`", "remove `ports`, or use `ssh:` and a tunnel to reach a server", "warning"),
    );
  }
  if (spec.cost.spot_fallback && !spec.use_spot) {
    warnings.push(located(["cost", "spot_fallback"], "ignored", "`spot_fallback` has no effect with `use_spot: false`", undefined, "warning"));
  }
  if (provider(spec.provider).launch === "this-machine" && spec.gpu_type) {
    warnings.push(located(["gpu_type"], "ignored", "`gpu_type` is ignored with `provider: local`: the job uses this machine's GPUs, if any", undefined, "warning"));
  }
  for (const name of RUNTIME_ENV_NAMES) {
    if (name in spec.envs) {
      warnings.push(
        located(["envs", name], "overridden", `\`${name}\` is set by the spotjob runtime; the value here is ignored so that resuming keeps working`, undefined, "warning", true),
      );
    }
  }
  for (const [i, cidr] of (spec.ssh?.cidrs ?? []).entries()) {
    if (cidr.endsWith("/0")) {
      warnings.push(located(["ssh", "cidrs", i], "open_to_world", `${cidr} opens SSH to the whole internet`, "allow only your own address, e.g. 203.0.113.7/32", "warning"));
    }
  }

  const loaded: LoadedSpec = {
    file,
    spec,
    sweepItems,
    warnings: sortByLine(warnings),
    source: source!,
    diagnose: (path, code, message, hint, severity = "error") => located(path, code, message, hint, severity),
  };
  return { ok: true, loaded };
}

/** A diagnostic when the spec names a provider spotjob cannot launch on; undefined otherwise. */
export function unsupportedProvider(loaded: LoadedSpec): Diagnostic | undefined {
  const p = loaded.spec.provider;
  // Valid JobConfig, so not an error when loading: planning and launching refuse it here.
  if (!plannable().some((entry) => entry.id === p)) {
    const { message, hint } = cannotLaunch(p);
    return loaded.diagnose(["provider"], "unsupported_provider", message, hint);
  }
  return undefined;
}

/** `confinement_h100_aws.yaml` → `confinement-h100-aws`. */
export function nameFromFile(file: string): string {
  let name = basename(file, extname(file))
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (!/^[a-z]/.test(name)) name = `job-${name}`;
  name = name.slice(0, 40).replace(/-+$/g, "");
  return name.length >= 2 ? name : "job";
}

/**
 * YAML reads `SEED: 42` as a number and `VERSION: 1.10` as 1.1; the original
 * launcher passed env values through as written, so keep their source text.
 */
function keepEnvSourceText(source: YamlSource): void {
  const envs = source.doc.get("envs", true);
  if (!isMap(envs)) return;
  visit(envs, {
    Scalar(key, node: Scalar) {
      if (key === "value" && typeof node.value !== "string" && node.value !== null && node.source !== undefined) {
        node.value = node.source;
      }
    },
  });
}

/** `setup:` with nothing after it means "not given": use the default. */
function dropNulls(data: unknown): unknown {
  if (!data || typeof data !== "object" || Array.isArray(data)) return data;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    if (v === null) continue;
    // Sweep items are user data, where null is a value like any other.
    // A secret left empty is an error, not silently dropped.
    out[k] = k === "secrets" ? v : k === "sweep" || k === "envs" ? dropNullsShallow(v) : dropNulls(v);
  }
  return out;
}

function dropNullsShallow(data: unknown): unknown {
  if (!data || typeof data !== "object" || Array.isArray(data)) return data;
  return Object.fromEntries(Object.entries(data).filter(([, v]) => v !== null));
}

function sortByLine(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.line - b.line || a.column - b.column);
}

function yamlCode(code: string, message: string): string {
  if (/call stack/i.test(message)) return "too_deep";
  if (code === "DUPLICATE_KEY") return "duplicate_key";
  if (code === "MULTIPLE_DOCS") return "multiple_documents";
  return "yaml_syntax";
}

function yamlMessage(code: string, message: string, text: string, pos: [number, number]): string {
  if (code === "DUPLICATE_KEY") {
    const key = /^["']?([^:"'\n]*)/.exec(text.slice(pos[0], pos[0] + 200))?.[1].trim();
    return `duplicate key${key ? ` \`${key}\`` : ""}: a key may appear only once in a mapping`;
  }
  if (code === "MULTIPLE_DOCS") return "the file holds more than one YAML document (a second `---`)";
  if (/call stack/i.test(message)) return "the spec is nested too deeply to read";
  return `invalid YAML: ${message.replace(/ at line \d+, column \d+[\s\S]*$/, "")}`;
}

function yamlHint(code: string): string | undefined {
  if (code === "DUPLICATE_KEY") return "delete one of the two entries";
  if (code === "MULTIPLE_DOCS") return "put one job in each file";
  if (code === "TAB_AS_INDENT") return "indent with spaces, not tabs";
  return "check the indentation and quoting on this line or the one before it";
}

/** The folder the job's commands run in: `workdir` resolved against the spec file's folder. */
export function workdirOf(loaded: Pick<LoadedSpec, "file" | "spec">): string {
  return resolve(dirname(loaded.file), loaded.spec.workdir || ".");
}

/** An error at `workdir` when it names no folder: found before anything runs, not as `spawn bash ENOENT`. */
export function missingWorkdir(loaded: LoadedSpec): Diagnostic | undefined {
  if (!loaded.spec.workdir) return undefined;
  const folder = workdirOf(loaded);
  let isFolder = false;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {
    // missing
  }
  if (isFolder) return undefined;
  return loaded.diagnose(
    ["workdir"],
    "workdir_missing",
    `\`${loaded.spec.workdir}\` is not a folder: ${folder} ${isFolderOrFile(folder)}`,
    "create it, or set `workdir` to the folder the job's commands run in (relative to this spec file's folder)",
  );
}

function isFolderOrFile(path: string): string {
  try {
    statSync(path);
    return "is a file";
  } catch {
    return "does not exist";
  }
}

/** The spec's yes/no fields (test/spec checks this list against the published JSON Schema). */
export const BOOLEAN_FIELDS: readonly (readonly string[])[] = [["use_spot"], ["cost", "auto_teardown"], ["cost", "spot_fallback"]];
/** YAML 1.1's words for true and false, which JobConfig's loader reads as booleans; YAML 1.2 (ours) reads them as strings. */
const YAML11_BOOLEAN = /^(?:y|Y|yes|Yes|YES|on|On|ON|n|N|no|No|NO|off|Off|OFF)$/;

/**
 * Turns a YAML 1.1 boolean word (`use_spot: yes`) in a yes/no field into the
 * boolean the users' existing launcher reads it as, in place, with a warning
 * for each: their specs load unchanged, and they learn the portable spelling.
 */
function readYaml11Booleans(data: unknown): { path: string[]; message: string; hint: string }[] {
  const found: { path: string[]; message: string; hint: string }[] = [];
  for (const path of BOOLEAN_FIELDS) {
    const parent = path.slice(0, -1).reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), data);
    const key = path[path.length - 1];
    if (!parent || typeof parent !== "object") continue;
    const value = (parent as Record<string, unknown>)[key];
    if (typeof value !== "string" || !YAML11_BOOLEAN.test(value)) continue;
    const truth = /^(?:y|yes|on)$/i.test(value);
    (parent as Record<string, unknown>)[key] = truth;
    found.push({ path: [...path], message: `\`${value}\` is read as ${truth} (YAML 1.1, as JobConfig reads it; in YAML 1.2 it is a string)`, hint: `write \`${truth}\`` });
  }
  return found;
}
