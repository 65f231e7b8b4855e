// Integration tier: real PostgreSQL, Redis and NATS are required. Fail loudly, never skip.
const net = require('node:net');

function reachable(url, fallbackPort) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || fallbackPort), timeout: 2000 });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(false));
  });
}

module.exports = async function globalSetup() {
  const targets = [
    ['PostgreSQL', process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres', 5432],
    ['Redis', process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379', 6379],
    ['NATS', process.env.TEST_NATS_URL || 'nats://127.0.0.1:4222', 4222],
  ];
  const missing = [];
  for (const [name, url, port] of targets) if (!(await reachable(url, port))) missing.push(`${name} at ${url}`);
  if (missing.length > 0) {
    throw new Error(`Integration tests need real infrastructure; unreachable: ${missing.join(', ')}`);
  }
};
