import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { canonicalJson, expandSweep, hashKey, parseTemplate, renderCommand, renderKey, shellQuote, type SweepSpec } from "../../core/jobspec";

const sweep = (s: Partial<SweepSpec>): SweepSpec => ({ command: "true", parallel: 1, max_attempts: 3, ...s });

describe("templates", () => {
  it.each([
    ["python3 t.py --lr {lr}", [{ literal: "python3 t.py --lr " }, { field: "lr" }]],
    ["echo ${HOME} {a}", [{ literal: "echo ${HOME} " }, { field: "a" }]],
    ["echo {{a}}", [{ literal: "echo {a}" }]],
    ["echo {a,b} { x; }", [{ literal: "echo {a,b} { x; }" }]],
    ["{opt.lr}", [{ field: "opt.lr" }]],
    ["awk '{print $1}'", [{ literal: "awk '{print $1}'" }]],
  ])("parses %j", (template, tokens) => {
    expect(parseTemplate(template)).toEqual(tokens);
  });

  it.each([
    ["{lr}", { lr: 0.1 }, "0.1"],
    ["--name {n}", { n: "it's; rm -rf /" }, `--name 'it'\\''s; rm -rf /'`],
    ["{o}", { o: { b: 1, a: [2] } }, `'{"a":[2],"b":1}'`],
    ["{x}", { x: null }, "''"],
    ["{a.b}", { a: { b: "$(id)" } }, "'$(id)'"],
  ])("renders %j with %j safely", (template, fields, out) => {
    expect(renderCommand(template, fields)).toBe(out);
  });

  it("quotes hostile values so that bash sees them verbatim", () => {
    const hostile = ["'", '"', "$(touch /tmp/pwned)", "`id`", "a\nb", "\\", "*", "-rf", "${IFS}", "\u00e9\u{1F600}", "!!", "' ; echo '"];
    for (const value of hostile) {
      const out = execFileSync("bash", ["-c", `printf %s ${renderCommand("{v}", { v: value })}`], { encoding: "utf8" });
      expect(out).toBe(value);
    }
    expect(shellQuote("")).toBe("''");
  });

  it("leaves plain words bare, so values work inside double quotes and arithmetic", () => {
    expect(renderCommand("echo {n} {lr} {path} {name}", { n: 3, lr: 1e-4, path: "data/x.csv", name: "run_a-1" })).toBe("echo 3 0.0001 data/x.csv run_a-1");
    const out = execFileSync("bash", ["-c", renderCommand('echo "n={n}" $(( {n} * {n} ))', { n: 7 })], { encoding: "utf8" });
    expect(out).toBe("n=7 49\n");
    for (const special of ["a b", "x=1", "~root", "*", "a;b", "$x", "é", ""]) expect(shellQuote(special)).toMatch(/^'.*'$/s);
  });
});

describe("keys", () => {
  it("renders templates and field names without quoting", () => {
    expect(renderKey("{label}-{seed}", { label: "a", seed: 3 })).toBe("a-3");
    expect(renderKey("label", { label: "a" })).toBe("a");
  });

  it("hashes canonical JSON by default: stable under key order", () => {
    expect(hashKey({ a: 1, b: [1, 2] })).toBe(hashKey({ b: [1, 2], a: 1 }));
    expect(hashKey({ a: 1 })).not.toBe(hashKey({ a: 2 }));
    expect(canonicalJson({ b: 1, a: { d: 1, c: 2 } })).toBe('{"a":{"c":2,"d":1},"b":1}');
    expect(hashKey({ a: 1 })).toMatch(/^[0-9a-f]{16}$/);
  });

  it("keeps an item's key when items are reordered", () => {
    const a = expandSweep(sweep({ items: [{ x: 1 }, { x: 2 }, { x: 3 }] }));
    const b = expandSweep(sweep({ items: [{ x: 3 }, { x: 1 }, { x: 2 }] }));
    if (!a.ok || !b.ok) throw new Error("expected ok");
    const keyOf = (items: typeof a.items, x: number) => items.find((i) => i.fields.x === x)!.key;
    for (const x of [1, 2, 3]) expect(keyOf(a.items, x)).toBe(keyOf(b.items, x));
  });
});

describe("grid expansion", () => {
  it("expands as a product, last field fastest", () => {
    const result = expandSweep(sweep({ grid: { lr: [0.1, 0.01], seed: [1, 2, 3] }, key: "{lr}-{seed}" }));
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.items.map((i) => i.key)).toEqual(["0.1-1", "0.1-2", "0.1-3", "0.01-1", "0.01-2", "0.01-3"]);
    expect(result.items.map((i) => i.index)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("expands 100,000 items quickly", () => {
    const started = performance.now();
    const result = expandSweep(sweep({ grid: { a: Array.from({ length: 100 }, (_, i) => i), b: Array.from({ length: 1000 }, (_, i) => i) }, key: "{a}-{b}" }));
    expect(result.ok && result.items.length).toBe(100_000);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("names a missing field in the key or command", () => {
    const result = expandSweep(sweep({ items: [{ lr: 1 }, { lr: 2, seed: 1 }], command: "x {seed}" }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toMatchObject({ path: ["sweep", "command"], code: "unknown_field" });
  });
});
