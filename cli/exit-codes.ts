/** The CLI's exit statuses: scripts and CI branch on them. */
import { StoreUnavailable } from "../runtime/store/store";

export const EXIT = {
  ok: 0,
  /** Anything else: unreadable file, internal error. */
  error: 1,
  /** Invalid spec, or a provider spotjob cannot launch on. */
  invalidSpec: 2,
  /** A cost guard is violated. */
  guardViolated: 3,
  /**
   * The store could not be used (no bucket, no region or credentials, access
   * denied, unreachable, an unwritable directory...): the message says why and
   * what to do. Nothing in the store was changed by the failed call.
   */
  store: 5,
  /** `run`: the job was cancelled (`spotjob cancel`); the runtime's own status for it. */
  cancelled: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI reports as a message and an exit status, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.error,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * How the CLI reports a failure it expects (a CliError, a store that could
 * not be used): its message and exit status. Undefined for anything else,
 * which is a bug and reported as one.
 */
export function expectedFailure(e: unknown): { message: string; exitCode: ExitCode } | undefined {
  if (e instanceof CliError) return { message: e.message, exitCode: e.exitCode };
  if (e instanceof StoreUnavailable) return { message: e.message, exitCode: EXIT.store };
  return undefined;
}
