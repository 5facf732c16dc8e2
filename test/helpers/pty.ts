/**
 * Runs a command in a pseudo-terminal, as a person at a terminal does: the
 * command sees a TTY on stdin, stdout and stderr, and a Ctrl-C typed into
 * the terminal (the byte 0x03) reaches its whole foreground process group as
 * SIGINT through the terminal's line discipline, not a signal the test sends.
 * Python's pty module (always there with Python 3) drives it.
 */
import { spawnSync } from "node:child_process";

const DRIVER = String.raw`
import json, os, pty, re, select, sys, time
spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.chdir(spec["cwd"])
    os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
out = b""
steps = list(spec["steps"])
deadline = time.time() + spec["timeout"]
while time.time() < deadline:
    if steps and re.search(steps[0]["until"].encode(), out):
        os.write(fd, steps.pop(0)["send"].encode())
    r, _, _ = select.select([fd], [], [], 0.05)
    if fd in r:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"output": out.decode("utf-8", "replace"), "exit": code, "pending": [s["until"] for s in steps]}))
`;

export interface PtyStep {
  /** A regular expression (Python syntax) the output must match before `send` is typed. */
  until: string;
  send: string;
}

export interface PtyRun {
  /** Everything the terminal showed, escape sequences and carriage returns included. */
  output: string;
  /** The exit status; negative: killed by that signal. */
  exit: number;
  /** Steps whose `until` never matched. */
  pending: string[];
}

export function runInPty(argv: string[], options: { cwd: string; env: NodeJS.ProcessEnv; steps: PtyStep[]; timeoutMs: number }): PtyRun {
  const spec = { argv, cwd: options.cwd, env: options.env, steps: options.steps, timeout: options.timeoutMs / 1000 };
  const run = spawnSync("python3", ["-c", DRIVER, JSON.stringify(spec)], { encoding: "utf8", timeout: options.timeoutMs + 30_000, maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`the pty driver failed (${run.status ?? run.signal}): ${run.stderr}`);
  return JSON.parse(run.stdout) as PtyRun;
}
