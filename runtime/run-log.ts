import { appendFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Store } from "./store/store";

/** Where each attempt's log is kept in the store. */
export const LOGS_PREFIX = "logs/";

/** The run's output: appended locally as it comes, copied to the store now and then and at the end. */
export class RunLog {
  private readonly file: string;
  private dirty = false;
  private copying: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    dir: string,
    private readonly attempt: number,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = resolve(dir, `run-${attempt}.log`);
    this.timer = setInterval(() => void this.flush().catch(() => undefined), 5000);
    this.timer.unref();
  }

  write(line: string): void {
    appendFileSync(this.file, `${line}\n`);
    this.dirty = true;
  }

  /** One copy at a time: a caller's flush resolves only once what was written before it is in the store. */
  flush(): Promise<void> {
    const copy = this.copying.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      try {
        await this.store.put(logKey(this.attempt), readFileSync(this.file));
      } catch (e) {
        this.dirty = true;
        throw e;
      }
    });
    this.copying = copy.catch(() => undefined);
    return copy;
  }

  /**
   * Copies the logs of earlier attempts on this machine to the store: an
   * attempt killed between two flushes left its tail only here.
   */
  async salvage(): Promise<void> {
    for (const name of readdirSync(dirname(this.file))) {
      const attempt = Number(/^run-(\d+)\.log$/.exec(name)?.[1]);
      if (!attempt || attempt === this.attempt) continue;
      const local = readFileSync(join(dirname(this.file), name));
      const stored = await this.store.get(logKey(attempt));
      if (!stored || stored.body.length < local.length) await this.store.put(logKey(attempt), local);
    }
  }

}

/** The store key of an attempt's log: logs/run-0001.log sorts in attempt order. */
export function logKey(attempt: number): string {
  return `${LOGS_PREFIX}run-${String(attempt).padStart(4, "0")}.log`;
}

/** The attempt a log key belongs to. */
export function attemptOfLogKey(key: string): number {
  return Number(/run-(\d+)\.log$/.exec(key)?.[1]);
}
