/**
 * The worker protocol on its own: results on descriptor 3, and through a
 * named pipe (the way a worker inside a container answers), with the Python
 * helper as users run it.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Worker } from "../../runtime/sweep/worker";
import { PYTHON_HELPER, PYTHON_HELPER_MODULE } from "../../runtime/worker/python-helper";

function setUp(program: string) {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-worker-"));
  mkdirSync(join(dir, "python"));
  writeFileSync(join(dir, "python", `${PYTHON_HELPER_MODULE}.py`), PYTHON_HELPER);
  writeFileSync(join(dir, "worker.py"), program);
  return { dir, env: { ...process.env, PYTHONPATH: join(dir, "python") } };
}

const PROGRAM = `
import os, sys
from spotjob_worker import serve
def handle(item):
    print("noise on stdout", flush=True)
    if item.get("die"):
        os._exit(7)
    if item.get("raise"):
        raise RuntimeError("bad item")
    return {"twice": item["n"] * 2, "pid": os.getpid()}
serve(handle)
`;

describe.each([
  ["descriptor 3", false],
  ["a named pipe", true],
])("worker results through %s", (_, fifo) => {
  it("answers item after item from one process, survives a raised item, and restarts after dying", async () => {
    const { dir, env } = setUp(PROGRAM);
    const worker = new Worker({ script: "python3 worker.py", cwd: dir, env, signal: new AbortController().signal, resultsFifo: fifo ? join(dir, "results.fifo") : undefined });
    const a = await worker.run("a", { n: 1 }, 1);
    const b = await worker.run("b", { n: 2 }, 1);
    expect(a).toMatchObject({ ok: true, result: { twice: 2 } });
    expect(b).toMatchObject({ ok: true, result: { twice: 4 } });
    expect((a.result as { pid: number }).pid).toBe((b.result as { pid: number }).pid);
    expect(await worker.run("c", { n: 3, raise: true }, 1)).toMatchObject({ ok: false, error: "RuntimeError: bad item" });
    const died = await worker.run("d", { n: 4, die: true }, 1);
    expect(died).toMatchObject({ ok: false, exit: 7 });
    expect(died.error).toMatch(/the worker died during the item \(exit 7\)/);
    const after = await worker.run("e", { n: 5 }, 2);
    expect(after).toMatchObject({ ok: true, result: { twice: 10 } });
    expect((after.result as { pid: number }).pid).not.toBe((a.result as { pid: number }).pid);
    expect(worker.starts).toBe(2);
    await worker.close();
  });

  it("a worker that exits before it answers anything fails the item instead of hanging", async () => {
    const { dir, env } = setUp("import sys; sys.exit(3)\n");
    const worker = new Worker({ script: "python3 worker.py", cwd: dir, env, signal: new AbortController().signal, resultsFifo: fifo ? join(dir, "results.fifo") : undefined });
    expect(await worker.run("a", { n: 1 }, 1)).toMatchObject({ ok: false, exit: 3 });
    expect(await worker.run("b", { n: 1 }, 1)).toMatchObject({ ok: false, exit: 3 });
  });
});
