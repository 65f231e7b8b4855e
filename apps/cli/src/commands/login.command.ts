import { ApiClient } from '../api-client.js';
import type { CommandSpec } from '../command.js';
import { normalizeUrl, readConfig, writeConfig } from '../config.js';
import { UsageError } from '../exit-codes.js';

/** GET /v1/me, as the gateway answers it. */
export interface Me {
  principal: { id: string; name: string; role: string };
  tenant: { id: string; name: string } | null;
  role: string;
  api_key: { id: string; prefix: string };
}

const login: CommandSpec = {
  path: ['login'],
  summary: 'Check a server URL and API key (GET /v1/me), then store them in the config file',
  details:
    'The file is $RUNYARD_CONFIG, else ~/.config/runyard/config.json, readable by you only (0600).\n' +
    'Give --key - to read the key from stdin, which keeps it out of your shell history. Without --url or\n' +
    '--key, RUNYARD_URL / RUNYARD_KEY or the stored values are used.',
  args: [],
  options: {},
  examples: ['runyard login --url http://127.0.0.1:8080 --key ryk_...', 'echo "$KEY" | runyard login --url https://runyard.example.com --key -'],
  async run({ options, env, io, json, style, configPath }) {
    const stored = readConfig(configPath);
    let key = options.string('key') ?? (env.RUNYARD_KEY || undefined) ?? stored.key;
    if (key === '-') key = (await io.readStdin()).trim();
    const rawUrl = options.string('url') ?? (env.RUNYARD_URL || undefined) ?? stored.url;
    if (rawUrl === undefined) throw new UsageError('login needs --url <url>');
    if (key === undefined || key === '') throw new UsageError('login needs --key <key> (or --key - to read it from stdin)');
    const url = normalizeUrl(rawUrl);
    const me = await new ApiClient({ url, key }).get<Me>('v1/me');
    writeConfig(configPath, { url, key });
    if (json) io.out(`${JSON.stringify({ url, config: configPath, me })}\n`);
    else {
      const tenant = me.tenant === null ? 'no tenant (system key)' : `tenant ${style.bold(me.tenant.name)}`;
      io.out(`Logged in to ${style.bold(url)} as ${style.bold(me.principal.name)} (${me.role}, ${tenant}).\nSaved to ${configPath}.\n`);
    }
    return undefined;
  },
};

export const loginCommands: CommandSpec[] = [login];
