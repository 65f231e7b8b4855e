import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from '@jest/globals';

// The repository root. The CLI's tests run the real binary (`node apps/cli/dist/main.js`, built by `tsc -b
// tsconfig.build.json` as `npm test` does first) in child processes with a clean environment.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI_MAIN = join(ROOT, 'apps/cli/dist/main.js');
/** Test files are not part of the build: they may be newer than it. */
const NOT_BUILT = /\.(spec|integration-spec|fixture)\.ts$/;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<CliResult>;
}

function newestSource(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return newestSource(path);
      return NOT_BUILT.test(entry.name) ? 0 : statSync(path).mtimeMs;
    }),
  );
}

/**
 * Runs the binary with HOME and the config file (RUNYARD_CONFIG) in a temp dir of its own and no
 * RUNYARD_* variable of the caller. `open` fails loudly when the build is missing or older than the
 * CLI's sources: a stale build would test old code.
 */
export class CliHarness {
  private constructor(
    readonly home: string,
    readonly configFile: string,
  ) {}

  static open(prefix: string, configPath = 'config.json'): CliHarness {
    const buildInfo = join(ROOT, 'apps/cli/dist/tsconfig.lib.tsbuildinfo');
    if (!existsSync(CLI_MAIN) || !existsSync(buildInfo) || statSync(buildInfo).mtimeMs < newestSource(join(ROOT, 'apps/cli/src'))) {
      throw new Error(`${CLI_MAIN} is missing or older than apps/cli/src: run npx tsc -b tsconfig.build.json first`);
    }
    const home = mkdtempSync(join(tmpdir(), prefix));
    return new CliHarness(home, join(home, configPath));
  }

  /** Starts the CLI; its stdin stays open until the caller ends it. */
  start(args: string[], env: Record<string, string> = {}): RunningCli {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: this.home, RUNYARD_CONFIG: this.configFile, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
    return { child, stdout: () => stdout, stderr: () => stderr, exited };
  }

  /** Runs the CLI to its end with `stdin` as its input. */
  run(args: string[], env?: Record<string, string>, stdin?: string): Promise<CliResult> {
    const running = this.start(args, env);
    running.child.stdin!.end(stdin ?? '');
    return running.exited;
  }

  remove(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** stdout of a successful run, as JSON. */
export function parseJson<T = Record<string, unknown>>(result: CliResult): T {
  expect(result).toMatchObject({ code: 0 });
  return JSON.parse(result.stdout) as T;
}

/** A call to the HTTP API beside the CLI (to set up or check what the CLI cannot); must succeed. */
export async function callApi<T = Record<string, unknown>>(baseUrl: string, method: string, path: string, key: string, body?: unknown): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.ok).toBe(true);
  return (await response.json()) as T;
}
