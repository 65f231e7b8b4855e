#!/usr/bin/env node
// The `runyard` command line (the workspace's bin). Only boots: src/cli.ts does the work.
import { runCli } from './cli.js';
import { ExitCode } from './exit-codes.js';

const interrupt = new AbortController();
process.once('SIGINT', () => {
  interrupt.abort();
  // A second Ctrl-C, or a command that does not stop, ends the process anyway.
  process.once('SIGINT', () => process.exit(ExitCode.INTERRUPTED));
});

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const code = await runCli(
  process.argv.slice(2),
  { out: (text) => void process.stdout.write(text), err: (text) => void process.stderr.write(text), readStdin },
  process.env,
  { stdoutIsTTY: process.stdout.isTTY === true, stderrIsTTY: process.stderr.isTTY === true },
  interrupt.signal,
);
// Exit now rather than when idle keep-alive sockets close; stdout is flushed first (it may be a pipe).
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(interrupt.signal.aborted ? ExitCode.INTERRUPTED : code);
