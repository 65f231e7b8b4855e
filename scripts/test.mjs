// `npm test`: unit tier always; integration tier against real PostgreSQL, Redis and NATS.
// In CI (CI=true) or with RUNYARD_REQUIRE_INFRA=1 the integration tier always runs and fails when the
// servers are missing. On a laptop without them it is not run, and this says so loudly.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { ensureBuilt, ensureInstalled, root } from './workspace.mjs';

ensureInstalled();

const servers = [
  ['PostgreSQL', process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', 5432],
  ['Redis', process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', 6379],
  ['NATS', process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222', 4222],
];

function reachable(url, fallbackPort) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || fallbackPort), timeout: 1500 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

const required = process.env.CI === 'true' || process.env.RUNYARD_REQUIRE_INFRA === '1';
const missing = [];
for (const [name, url, port] of servers) if (!(await reachable(url, port))) missing.push(`${name} (${url})`);

const projects = ['unit'];
if (required || missing.length === 0) projects.push('integration');
else {
  console.error(`\nrunyard: NOT running the integration tier — unreachable: ${missing.join(', ')}.`);
  console.error('runyard: start them (see the README, "Two commands") or set TEST_DATABASE_URL / TEST_REDIS_URL / TEST_NATS_URL.\n');
}

// Some tests start the apps as real processes (workers killed with SIGKILL), which run the build.
ensureBuilt();

// Paths and options first: --selectProjects takes every word after it as a project name.
const args = [join(root, 'node_modules', 'jest', 'bin', 'jest.js'), ...process.argv.slice(2), '--selectProjects', ...projects];
const result = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim() },
});
process.exit(result.status ?? 1);
