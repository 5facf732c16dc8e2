/**
 * A runtime killed with SIGKILL cannot stop the process groups it started,
 * and a resumed runtime must not run an item while its orphan still writes.
 * So each group is recorded (pgid + kernel start time, which tells a reused
 * pid apart) and the next runtime on this machine kills what is left.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { processStartTime } from "./process-start";
import { signalGroup } from "./shell";

export class ChildRegistry {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  add(pgid: number): void {
    const started = processStartTime(pgid);
    if (started) writeFileSync(join(this.dir, String(pgid)), started);
  }

  remove(pgid: number): void {
    rmSync(join(this.dir, String(pgid)), { force: true });
  }

  /** The recorded groups still alive (the same process, not a reused pid). */
  alive(): number[] {
    return readdirSync(this.dir)
      .map(Number)
      .filter((pgid) => {
        try {
          return Number.isInteger(pgid) && processStartTime(pgid) === readFileSync(join(this.dir, String(pgid)), "utf8");
        } catch {
          return false; // the group ended meanwhile
        }
      });
  }

  /** Kills the groups a previous runtime left behind; returns how many it found alive. */
  reap(): number {
    const alive = this.alive();
    for (const pgid of alive) signalGroup(pgid, "SIGKILL");
    for (const name of readdirSync(this.dir)) rmSync(join(this.dir, name), { force: true });
    return alive.length;
  }
}
