import type { ApiClient } from './api-client.js';
import type { Env } from './config.js';
import type { ExitCode } from './exit-codes.js';
import type { Style } from './output.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in help as `--name <value>`. */
  value?: string;
  description: string;
}

export interface ArgumentSpec {
  name: string;
  description: string;
}

/** One command: what help shows, and what it does. Options are parsed with `util.parseArgs` (strict). */
export interface CommandSpec {
  /** The words that select it: `['sessions', 'send']`. */
  path: string[];
  summary: string;
  /** More help, after the usage line. */
  details?: string;
  args: ArgumentSpec[];
  options: Record<string, OptionSpec>;
  /** Printed under the options in help. */
  examples?: string[];
  run(context: CommandContext): Promise<ExitCode | undefined>;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** The whole of stdin (for `--key -` and `sessions send <id> -`). */
  readStdin(): Promise<string>;
}

export interface CommandContext {
  /** The positional arguments, one per `args` entry (checked). */
  args: string[];
  options: ParsedOptions;
  json: boolean;
  env: Env;
  io: Io;
  /** For stdout and for stderr: each coloured only if that stream is a terminal. */
  style: Style;
  errStyle: Style;
  /** The client for the configured server (flags > env > config file); a usage error when none is. */
  api(): ApiClient;
  configPath: string;
  /** Aborted on Ctrl-C: long-running commands stop cleanly. */
  signal: AbortSignal;
}

export class ParsedOptions {
  constructor(private readonly values: Record<string, string | boolean | undefined>) {}

  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === 'string' ? value : undefined;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }
}
