/**
 * Which of some files a process has open for writing right now (Linux,
 * through /proc). A program that rewrites its progress file in place holds
 * it open from the truncation to the last byte, however long the scheduler
 * keeps it waiting in between: while it does, the file is not to be sent.
 * Without /proc the answer is `undefined`: unknown, and the age rule alone applies.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

const O_ACCMODE = 0o3;

export function openForWriting(paths: ReadonlySet<string>): Set<string> | undefined {
  const busy = new Set<string>();
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  if (paths.size === 0) return busy;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to see
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (!paths.has(target)) continue;
        const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"))?.[1];
        if (flags !== undefined && (parseInt(flags, 8) & O_ACCMODE) !== 0) busy.add(target);
      } catch {
        // closed meanwhile
      }
    }
  }
  return busy;
}
