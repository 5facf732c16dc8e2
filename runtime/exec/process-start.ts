import { readFileSync } from "node:fs";

/**
 * When a process started, in clock ticks since boot (/proc/<pid>/stat field
 * 22): with its pid, it names one process, since pids are reused. Undefined
 * for a process that is gone, or without /proc.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Counted after the command name (field 2), which may hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}
