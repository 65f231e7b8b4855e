import type { LogLineView, Page } from '@runyard/contracts';
import type { CommandContext, CommandSpec } from '../command.js';
import type { Style } from '../output.js';
import { followSse } from '../sse/sse-follow.js';
import { idArgument, intOption, oneOf } from '../values.js';

const STREAMS = ['stdout', 'stderr', 'agent', 'system'] as const;

function logLine(line: LogLineView, style: Style): string {
  const level = line.level === 'error' ? style.red(line.level) : line.level === 'warn' ? style.yellow(line.level) : style.dim(line.level);
  return `${style.dim(`${line.seq}`.padStart(5))} ${style.dim(line.time)} ${style.cyan(line.stream.padEnd(6))} ${level.padEnd(5)} ${line.text}`;
}

function print(context: CommandContext, line: LogLineView): void {
  context.io.out(context.json ? `${JSON.stringify(line)}\n` : `${logLine(line, context.style)}\n`);
}

const logs: CommandSpec = {
  path: ['runs', 'logs'],
  summary: "Print a run's log lines (-f: follow them live until the run's log closes)",
  details:
    'Lines in seq order: seq, time, stream, level, text (--json: one JSON object per line). With -f the\n' +
    'live tail follows new lines until the run has ended and its log is closed, resuming after a dropped\n' +
    'connection from the last seq received.',
  args: [{ name: 'id', description: 'Run id' }],
  options: {
    follow: { type: 'boolean', short: 'f', description: 'Follow new lines live' },
    stream: { type: 'string', value: 'stream', description: 'Only this stream: stdout, stderr, agent or system' },
    'after-seq': { type: 'string', value: 'seq', description: 'Only lines after this seq' },
    since: { type: 'string', value: 'time', description: 'Only lines from this time on (RFC 3339; without -f)' },
    limit: { type: 'string', value: 'n', description: 'At most this many lines (without -f; default all)' },
  },
  examples: ['runyard runs logs 019a... -f', 'runyard runs logs 019a... --stream stderr --json'],
  async run(context) {
    const api = context.api();
    const id = idArgument(context.args[0], 'id');
    const stream = oneOf(context.options.string('stream'), 'stream', STREAMS);
    const afterSeq = intOption(context.options.string('after-seq'), 'after-seq', 0, Number.MAX_SAFE_INTEGER);
    if (context.options.flag('follow')) {
      const result = await followSse({
        url: api.url(`v1/runs/${id}/logs/stream`),
        headers: api.authHeaders(),
        lastEventId: afterSeq === undefined ? undefined : String(afterSeq),
        signal: context.signal,
        onReconnect: ({ reason, lastEventId, delayMs }) =>
          context.io.err(`${context.errStyle.dim(`runyard: ${reason}; resuming after line ${lastEventId ?? '0'} in ${delayMs} ms`)}\n`),
        onEvent: (message) => {
          if (message.event === 'log.closed') return 'stop';
          if (message.event !== 'log.line') return 'continue';
          const line = JSON.parse(message.data) as LogLineView;
          if (stream === undefined || line.stream === stream) print(context, line);
          return 'continue';
        },
      });
      if (result.reason === 'aborted') return 130;
      if (!context.json) context.io.err(`${context.errStyle.dim(`log closed: the run has ended`)}\n`);
      return undefined;
    }
    const limit = intOption(context.options.string('limit'), 'limit', 1, Number.MAX_SAFE_INTEGER);
    let printed = 0;
    let cursor: string | undefined;
    do {
      const page = await api.get<Page<LogLineView>>(`v1/runs/${id}/logs`, {
        stream,
        after_seq: afterSeq,
        since: context.options.string('since'),
        limit: Math.min(200, limit === undefined ? 200 : limit - printed),
        cursor,
      });
      for (const line of page.data) print(context, line);
      printed += page.data.length;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined && (limit === undefined || printed < limit));
    return undefined;
  },
};

export const logsCommands: CommandSpec[] = [logs];
