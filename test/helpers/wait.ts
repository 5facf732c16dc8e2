/**
 * Polls `probe` (which may be async) until it holds; fails naming what it waited for, and what `detail` says then
 * (a process's output).
 */
export async function until(what: string, probe: () => unknown, timeoutMs = 30_000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail ? `\n${detail()}` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
