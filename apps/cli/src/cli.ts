import { parseArgs } from 'node:util';
import { ApiClient } from './api-client.js';
import { type CommandContext, type CommandSpec, type Io, type OptionSpec, ParsedOptions } from './command.js';
import { auditCommands } from './commands/audit.command.js';
import { eventsCommands } from './commands/events.command.js';
import { keysCommands } from './commands/keys.command.js';
import { loginCommands } from './commands/login.command.js';
import { logsCommands } from './commands/logs.command.js';
import { runsCommands } from './commands/runs.command.js';
import { sessionsCommands } from './commands/sessions.command.js';
import { configPath, readConfig, resolveConnection, type Env } from './config.js';
import { CliError, EXIT_CODES_HELP, ExitCode, UsageError } from './exit-codes.js';
import { createStyle, useColour } from './output.js';

export const COMMANDS: readonly CommandSpec[] = [...loginCommands, ...sessionsCommands, ...runsCommands, ...logsCommands, ...eventsCommands, ...keysCommands, ...auditCommands];

const GROUPS: Record<string, string> = {
  login: 'Store the server URL and API key',
  sessions: 'Sessions: create, list, show, send a turn and follow its run, archive',
  runs: 'Runs: list, show, cancel, plan steps, logs, trace, waits, approve/deny/respond',
  events: 'Follow the live event stream',
  keys: 'API keys: create, list, revoke',
  audit: 'The audit trail (tenant admins)',
};

/** Options every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string', value: 'url', description: 'Server URL (overrides RUNYARD_URL and the config file)' },
  key: { type: 'string', value: 'key', description: 'API key (overrides RUNYARD_KEY and the config file)' },
  json: { type: 'boolean', description: 'Machine-readable JSON on stdout instead of tables' },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
};

export interface Terminal {
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

/**
 * Runs one command line and returns its exit code; prints nothing but through `io`. Errors become one
 * line on stderr (`runyard: ...`) and their exit code; anything unexpected is exit 1 with its message.
 */
export async function runCli(argv: string[], io: Io, env: Env, terminal: Terminal, signal: AbortSignal): Promise<number> {
  const errStyle = createStyle(useColour({ isTTY: terminal.stderrIsTTY }, env));
  try {
    return await dispatch(argv, io, env, terminal, signal);
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`${errStyle.red('runyard:')} ${error.message}\n`);
      if (error.exitCode === ExitCode.USAGE && error instanceof UsageError) io.err(`Run ${errStyle.bold('runyard --help')} for usage.\n`);
      return error.exitCode;
    }
    io.err(`${errStyle.red('runyard:')} ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], io: Io, env: Env, terminal: Terminal, signal: AbortSignal): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(mainHelp());
    return first === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  if (first === '--version' || first === '-v') {
    io.out(`${await version()}\n`);
    return ExitCode.OK;
  }
  const inGroup = COMMANDS.filter((command) => command.path[0] === first);
  if (inGroup.length === 0) throw new UsageError(`unknown command: ${first}`);
  let command = inGroup.find((candidate) => candidate.path.length === 1);
  let rest = argv.slice(1);
  if (command === undefined) {
    if (second === undefined || second === '--help' || second === '-h') {
      io.out(groupHelp(first, inGroup));
      return second === undefined ? ExitCode.USAGE : ExitCode.OK;
    }
    command = inGroup.find((candidate) => candidate.path[1] === second);
    if (command === undefined) throw new UsageError(`unknown command: ${first} ${second} (see runyard ${first} --help)`);
    rest = argv.slice(2);
  }
  const options = { ...GLOBAL_OPTIONS, ...command.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: Object.fromEntries(Object.entries(options).map(([name, spec]) => [name, { type: spec.type, ...(spec.short ? { short: spec.short } : {}) }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('. ')[0]} (see ${commandName(command)} --help)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help === true) {
    io.out(commandHelp(command));
    return ExitCode.OK;
  }
  if (parsed.positionals.length !== command.args.length) {
    const expected = command.args.map((arg) => `<${arg.name}>`).join(' ') || 'no arguments';
    throw new UsageError(`${commandName(command)} takes ${expected}; got ${parsed.positionals.length === 0 ? 'none' : parsed.positionals.join(' ')}`);
  }
  const path = configPath(env);
  const json = values.json === true;
  const context: CommandContext = {
    args: parsed.positionals,
    options: new ParsedOptions(values),
    json,
    env,
    io,
    // JSON on stdout is never coloured; progress and errors on stderr may be.
    style: createStyle(!json && useColour({ isTTY: terminal.stdoutIsTTY }, env)),
    errStyle: createStyle(useColour({ isTTY: terminal.stderrIsTTY }, env)),
    api: () => new ApiClient(resolveConnection({ url: values.url as string | undefined, key: values.key as string | undefined }, env, readConfig(path))),
    configPath: path,
    signal,
  };
  return (await command.run(context)) ?? ExitCode.OK;
}

function commandName(command: CommandSpec): string {
  return `runyard ${command.path.join(' ')}`;
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => [`${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` <${spec.value}>` : ''}`, spec.description]);
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

export function commandHelp(command: CommandSpec): string {
  const args = command.args.map((arg) => ` <${arg.name}>`).join('');
  const lines = [`Usage: ${commandName(command)}${args} [options]`, '', command.summary];
  if (command.details) lines.push('', command.details);
  if (command.args.length > 0) {
    const width = Math.max(...command.args.map((arg) => arg.name.length + 2));
    lines.push('', 'Arguments:', ...command.args.map((arg) => `  ${`<${arg.name}>`.padEnd(width)}  ${arg.description}`));
  }
  if (Object.keys(command.options).length > 0) lines.push('', 'Options:', ...optionLines(command.options));
  lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((example) => `  ${example}`));
  return `${lines.join('\n')}\n`;
}

function groupHelp(group: string, commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((command) => commandName(command).length));
  const lines = [`Usage: runyard ${group} <command> [options]`, '', GROUPS[group] ?? '', '', 'Commands:'];
  for (const command of commands) lines.push(`  ${commandName(command).padEnd(width)}  ${command.summary}`);
  lines.push('', `Run runyard ${group} <command> --help for a command's options.`);
  return `${lines.join('\n')}\n`;
}

export function mainHelp(): string {
  const width = Math.max(...Object.keys(GROUPS).map((group) => group.length));
  return `Usage: runyard <command> [options]

The Runyard command line: sessions, runs, live events, API keys and audit, over the HTTP API.

Commands:
${Object.entries(GROUPS)
  .map(([group, summary]) => `  ${group.padEnd(width)}  ${summary}`)
  .join('\n')}

Global options:
${optionLines({ ...GLOBAL_OPTIONS, version: { type: 'boolean', short: 'v', description: 'Show the version' } }).join('\n')}

Configuration: runyard login stores the URL and key in $RUNYARD_CONFIG, else
~/.config/runyard/config.json (mode 0600). RUNYARD_URL and RUNYARD_KEY override it; --url and
--key override both. Colour only on a terminal, never with NO_COLOR set.

${EXIT_CODES_HELP}
`;
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
