import { describe, expect, it } from '@jest/globals';
import { expectEventually } from '@runyard/testing';
import type { Readable } from 'node:stream';
import { FakeEventLog } from './fake-event-log.fixture.js';
import { LiveStream, type LiveStreamOptions } from './live-stream.js';

function collect(body: Readable): { text: () => string; ended: Promise<void> } {
  let text = '';
  body.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const ended = new Promise<void>((resolve) => body.once('close', () => resolve()));
  return { text: () => text, ended };
}

/** The `id:` lines of the frames received so far. */
const idsIn = (text: string) => [...text.matchAll(/^id: (.*)$/gm)].map((m) => m[1]);

function options(log: FakeEventLog, overrides: Partial<LiveStreamOptions> = {}): LiveStreamOptions {
  return {
    bus: log,
    start: { kind: 'new' },
    epochTag: 'abcdefabcdef',
    heartbeatMs: 60_000,
    retryMs: 1234,
    selects: () => true,
    onTailError: () => undefined,
    ...overrides,
  };
}

describe('LiveStream', () => {
  it('starts with retry and the gap notice, then sends the selected events in log order with cursors', async () => {
    const log = new FakeEventLog();
    log.append();
    const stream = await LiveStream.open(
      options(log, {
        start: { kind: 'after', sequence: 0 },
        gap: { reason: 'epoch', resumed_from: '000000000000-7' },
        selects: (envelope) => envelope.owner_id === 'mine',
      }),
    );
    const body = collect(stream.body);
    const mine1 = log.append({ owner_id: 'mine', subject: 'runs.evt.run.status_changed.v1' });
    log.append({ owner_id: 'theirs' });
    const mine2 = log.append({ owner_id: 'mine' });
    await expectEventually(() => expect(idsIn(body.text())).toEqual(['abcdefabcdef-2', 'abcdefabcdef-4']));
    expect(body.text()).toBe(
      'retry: 1234\n\n' +
        'event: gap\ndata: {"reason":"epoch","resumed_from":"000000000000-7"}\n\n' +
        `id: abcdefabcdef-2\nevent: run.status_changed\ndata: ${JSON.stringify(mine1.envelope)}\n\n` +
        `id: abcdefabcdef-4\nevent: session.created\ndata: ${JSON.stringify(mine2.envelope)}\n\n`,
    );
    await stream.close();
  });

  it('holds the tail while the client is not reading, so nothing piles up in the gateway', async () => {
    const log = new FakeEventLog();
    const stream = await LiveStream.open(options(log));
    for (let i = 0; i < 300; i++) log.append({}, 1000);
    await expectEventually(() => expect(log.lastTail.handlerPending).toBe(true));
    expect(log.lastTail.delivered).toBeLessThan(100);
    expect(stream.body.readableLength).toBeLessThanOrEqual(64 * 1024);

    const body = collect(stream.body);
    await expectEventually(() => expect(idsIn(body.text())).toHaveLength(300));
    expect(idsIn(body.text())).toEqual(log.events.map((e) => `abcdefabcdef-${e.sequence}`));
    await stream.close();
  });

  it('stops the tail when the client goes away', async () => {
    const log = new FakeEventLog();
    const stream = await LiveStream.open(options(log));
    collect(stream.body);
    stream.body.destroy();
    await stream.done;
    expect(log.lastTail.stopped).toBe(true);
    expect(log.tails.size).toBe(0);
  });

  it('ends after the last event and sends nothing after it', async () => {
    const log = new FakeEventLog();
    const stream = await LiveStream.open(options(log, { isLast: (envelope) => envelope.owner_id === 'last' }));
    const body = collect(stream.body);
    log.append();
    log.append({ owner_id: 'last' });
    log.append();
    await body.ended;
    await stream.done;
    expect(idsIn(body.text())).toEqual(['abcdefabcdef-1', 'abcdefabcdef-2']);
    expect(log.tails.size).toBe(0);
  });

  it('sends heartbeats as comments', async () => {
    const log = new FakeEventLog();
    const stream = await LiveStream.open(options(log, { heartbeatMs: 20 }));
    const body = collect(stream.body);
    await expectEventually(() => expect(body.text()).toContain(': ping\n\n'));
    await stream.close();
  });

  it('ends the response when the tail fails, reporting the failure', async () => {
    const log = new FakeEventLog();
    const failures: unknown[] = [];
    const stream = await LiveStream.open(options(log, { onTailError: (error) => failures.push(error) }));
    const body = collect(stream.body);
    const failure = new Error('transport lost');
    log.lastTail.fail(failure);
    await body.ended;
    await stream.done;
    expect(failures).toEqual([failure]);
  });

  it('is ended by close() (gateway shutdown), even for a client that stopped reading', async () => {
    const log = new FakeEventLog();
    const reading = await LiveStream.open(options(log));
    const body = collect(reading.body);
    const stalled = await LiveStream.open(options(log));
    for (let i = 0; i < 100; i++) log.append({}, 1000);
    await reading.close();
    await stalled.close();
    await body.ended;
    expect(log.tails.size).toBe(0);
    expect(stalled.body.destroyed).toBe(true);
  });

  it('refuses to open, leaving nothing behind, when the tail cannot start', async () => {
    const log = new FakeEventLog();
    log.tailError = new Error('bus down');
    await expect(LiveStream.open(options(log))).rejects.toThrow('bus down');
  });
});
