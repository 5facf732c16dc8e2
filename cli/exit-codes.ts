/** The CLI's exit statuses: scripts and CI branch on them. */
export const EXIT = {
  ok: 0,
  /** Anything else: unreadable file, internal error. */
  error: 1,
  /** Invalid spec, or a provider spotjob cannot launch on. */
  invalidSpec: 2,
  /** A cost guard is violated. */
  guardViolated: 3,
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
