import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, ExitCode, UsageError } from './exit-codes.js';

/** What `runyard login` keeps: the server and the API key to present to it. */
export interface StoredConfig {
  url?: string;
  key?: string;
}

export type Env = Record<string, string | undefined>;

/** `$RUNYARD_CONFIG`, else `$XDG_CONFIG_HOME/runyard/config.json`, else `~/.config/runyard/config.json`. */
export function configPath(env: Env): string {
  if (env.RUNYARD_CONFIG) return env.RUNYARD_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'runyard', 'config.json');
}

export function readConfig(path: string): StoredConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(ExitCode.USAGE, `cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
    const { url, key } = parsed as Record<string, unknown>;
    return { url: typeof url === 'string' ? url : undefined, key: typeof key === 'string' ? key : undefined };
  } catch (error) {
    throw new CliError(ExitCode.USAGE, `${path} is not a valid config file (${(error as Error).message}); run runyard login again`);
  }
}

/**
 * Writes the config readable by its owner only (the key is a secret): the directory 0700, the file
 * 0600, written to a temporary file first so a crash never leaves half a file.
 */
export function writeConfig(path: string, config: StoredConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

/** Where the URL and key come from, strongest first: flags, then RUNYARD_URL / RUNYARD_KEY, then the config file. */
export function resolveConnection(flags: { url?: string; key?: string }, env: Env, stored: StoredConfig): { url: string; key: string } {
  const url = flags.url ?? (env.RUNYARD_URL || undefined) ?? stored.url;
  const key = flags.key ?? (env.RUNYARD_KEY || undefined) ?? stored.key;
  if (url === undefined || key === undefined) {
    throw new UsageError(`no ${url === undefined ? 'server URL' : 'API key'} configured: run runyard login --url <url> --key <key>, or set RUNYARD_URL and RUNYARD_KEY`);
  }
  return { url: normalizeUrl(url), key };
}

export function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`not an http(s) URL: ${url}`);
  return parsed.toString().replace(/\/$/, '');
}
