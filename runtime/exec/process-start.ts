import { readFileSync } from "node:fs";

/**
 * The fields of /proc/<pid>/stat from field 3 (state) on, so field N is at
 * index N - 3; undefined for a process that is gone, or without /proc.
 */
export function procStatFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Counted after the command name (field 2), which may hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/**
 * When a process started, in clock ticks since boot (field 22): with its
 * pid, it names one process, since pids are reused.
 */
export function processStartTime(pid: number): string | undefined {
  return procStatFields(pid)?.[19];
}
