#!/usr/bin/env node
// The `runyard` bin: a committed, executable entry (npm links bins at install, before any build) that
// runs the built CLI.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('runyard: the CLI is not built yet — run `npm run build` in the Runyard checkout first.');
  process.exit(2);
}
await import(main.href);
