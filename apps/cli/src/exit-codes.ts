/**
 * The exit codes of every command: part of the CLI's interface (scripts branch on them), so a code is
 * never reused for another meaning. Documented in `runyard --help` and the README.
 */
export const ExitCode = {
  /** Done; for `sessions send`, the run completed. */
  OK: 0,
  /** The run failed. */
  RUN_FAILED: 1,
  /** Bad command line: unknown command or option, missing argument, no URL or key configured. */
  USAGE: 2,
  /** The run was cancelled or expired. */
  RUN_CANCELLED: 3,
  /** `--no-wait`: the run stopped to wait for an approval or an input. */
  RUN_WAITING: 4,
  /** The server refused the request (a problem+json error: not found, validation failed, ...). */
  API_ERROR: 5,
  /** The server could not be reached, or a stream could not be resumed. */
  UNREACHABLE: 6,
  /** Interrupted (Ctrl-C). */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODES_HELP = `Exit codes:
  0    success (sessions send: the run completed)
  1    the run failed
  2    usage error (unknown command or option, missing argument, no URL or key)
  3    the run was cancelled or expired
  4    the run is waiting for an approval or input (sessions send --no-wait)
  5    the server answered with an error (its code is printed)
  6    the server could not be reached
  130  interrupted`;

/** A failure that ends the command with this exit code and message (printed on stderr). */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(ExitCode.USAGE, message);
    this.name = 'UsageError';
  }
}
