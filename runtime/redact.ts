/**
 * Masks secret values in what the runtime writes: console lines, the run log,
 * failure tails in the journal, messages in the status. Values are few, so a
 * plain substring replace per value is cheap enough for every line.
 */
import type { JobEvents } from "./job";

export const MASK = "***";
/** Shorter values are not masked: "abc" would mask half of every log. */
export const MIN_MASKED_LENGTH = 6;

export class Redactor {
  private values: string[] = [];

  /** Adds a value to mask; false when it is too short to be masked. */
  add(value: string): boolean {
    // A value over several lines (a PEM key, pretty JSON) also reaches the log one line at a time.
    const parts = [value, ...value.split(/\r?\n/).map((l) => l.trim())].filter((p) => p.length >= MIN_MASKED_LENGTH);
    this.values = [...new Set([...this.values, ...parts])].sort((a, b) => b.length - a.length);
    return value.length >= MIN_MASKED_LENGTH;
  }

  get active(): boolean {
    return this.values.length > 0;
  }

  apply(text: string): string {
    let out = text;
    for (const value of this.values) if (out.includes(value)) out = out.split(value).join(MASK);
    return out;
  }
}

/** The same events with every message masked. */
export function redactingEvents(events: JobEvents, redactor: Redactor): JobEvents {
  return {
    line: (source, line) => events.line(source, redactor.apply(line)),
    info: (message) => events.info(redactor.apply(message)),
    warn: (message) => events.warn(redactor.apply(message)),
    ...(events.progress ? { progress: events.progress.bind(events) } : {}),
  };
}
