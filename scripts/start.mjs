// `npm start`: standalone mode — every service in one process on embedded Postgres and the in-process bus.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { ensureBuilt, ensureInstalled, root } from './workspace.mjs';

ensureInstalled();
ensureBuilt();
await import(pathToFileURL(join(root, 'apps', 'standalone', 'dist', 'main.js')).href);
