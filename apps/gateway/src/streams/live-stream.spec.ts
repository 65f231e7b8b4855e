import { describe, expect, it } from '@jest/globals';
import { defineEvent } from '@runyard/contracts';
import { InProcessBus, newEvent } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import type { Readable } from 'node:stream';
import { FakeEventLog } from './fake-event-log.fixture.js';
import { LiveStream, type LiveStreamOptions } from './live-stream.js';

class Note {
  pad!: string;
}
const Noted = defineEvent('unit.evt.note.added.v1', Note);

function collect(body: Readable): { text: () => string; ended: Promise<void> } {
  let text = '';
  body.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const ended = new Promise<void>((resolve) => body.once('close', () => resolve()));
  return { text: () => text, ended };
}

/** The frames received so far (comments and `retry:` left out). */
function framesIn(text: string): { id?: string; event?: string; data?: string }[] {
  return text
    .split('\n\n')
    .filter((frame) => frame.length > 0 && !frame.startsWith(':') && !frame.startsWith('retry:'))
    .map((frame) => Object.fromEntries(frame.split('\n').map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)])));
}
/** The `id:` of the events sent so far, control events (`ready`, `heartbeat`) left out. */
const idsIn = (text: string) =>
  framesIn(text)
    .filter((frame) => frame.event !== 'ready' && frame.event !== 'heartbeat' && frame.id !== undefined)
    .map((frame) => frame.id);

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
        'id: abcdefabcdef-0\nevent: ready\ndata: {}\n\n' +
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

  it('gives the client its start position with `ready`, and moves it past the events it does not see on heartbeats', async () => {
    const log = new FakeEventLog();
    for (let i = 0; i < 3; i++) log.append();
    const stream = await LiveStream.open(options(log, { start: { kind: 'after', sequence: 3 }, heartbeatMs: 20, selects: (envelope) => envelope.owner_id === 'mine' }));
    const body = collect(stream.body);
    await expectEventually(() => expect(framesIn(body.text())[0]).toEqual({ id: 'abcdefabcdef-3', event: 'ready', data: '{}' }));

    log.append({ owner_id: 'theirs' });
    log.append({ owner_id: 'theirs' });
    await expectEventually(() => expect(framesIn(body.text())).toContainEqual({ id: 'abcdefabcdef-5', event: 'heartbeat', data: '{}' }));
    log.append({ owner_id: 'mine' });
    await expectEventually(() => expect(idsIn(body.text())).toEqual(['abcdefabcdef-6']));
    // Once the cursor is current, heartbeats are comments again: wait for two more.
    const pings = () => body.text().split(': ping\n\n').length;
    const seen = pings();
    await expectEventually(() => expect(pings()).toBeGreaterThan(seen + 1));
    expect(framesIn(body.text()).map((frame) => `${frame.event}:${frame.id}`)).toEqual([
      'ready:abcdefabcdef-3',
      'heartbeat:abcdefabcdef-5',
      'session.created:abcdefabcdef-6',
    ]);
    await stream.close();
  });

  it('sends `ready` without an id when the start position is not known yet (a `time` start)', async () => {
    const log = new FakeEventLog();
    const stream = await LiveStream.open(options(log, { start: { kind: 'time', time: new Date() } }));
    const body = collect(stream.body);
    await expectEventually(() => expect(framesIn(body.text())).toEqual([{ event: 'ready', data: '{}' }]));
    await stream.close();
  });

  it('sends `gap` mid-stream when the log drops events before the stream reads them, then carries on', async () => {
    const bus = new InProcessBus({ maxRetainedEvents: 3 });
    const publish = (size: number) => bus.publish(newEvent(Noted, { tenant_id: 't' }, { pad: 'x'.repeat(size) }));
    const stream = await LiveStream.open({ ...options(new FakeEventLog()), bus, start: { kind: 'after', sequence: 0 } });
    // The first event alone fills the body's buffer: with nobody reading, the tail waits on it.
    await publish(100_000);
    await expectEventually(() => expect(stream.body.readableLength).toBeGreaterThan(16 * 1024));
    for (let i = 0; i < 5; i++) await publish(10);
    expect(await bus.eventLog()).toMatchObject({ firstSequence: 4, lastSequence: 6 });

    const body = collect(stream.body);
    await expectEventually(() => expect(idsIn(body.text())).toEqual(['abcdefabcdef-1', 'abcdefabcdef-4', 'abcdefabcdef-5', 'abcdefabcdef-6']));
    const frames = framesIn(body.text());
    expect(frames.map((frame) => frame.event ?? '')).toEqual(['ready', 'note.added', 'gap', 'note.added', 'note.added', 'note.added']);
    expect(JSON.parse(frames[2].data ?? '')).toEqual({ reason: 'retention', resumed_from: 'abcdefabcdef-1' });
    await stream.close();
    await bus.close();
  });

  it('ends cleanly after its maximum lifetime, leaving the client’s cursor where the stream got to', async () => {
    const log = new FakeEventLog();
    log.append({ owner_id: 'mine' });
    log.append({ owner_id: 'theirs' });
    const stream = await LiveStream.open(
      options(log, { start: { kind: 'after', sequence: 0 }, maxLifetimeMs: 300, selects: (envelope) => envelope.owner_id === 'mine' }),
    );
    const body = collect(stream.body);
    await expectEventually(() => expect(log.lastTail.delivered).toBe(2));

    await body.ended;
    await stream.done;
    expect(framesIn(body.text()).map((frame) => `${frame.event}:${frame.id}`)).toEqual([
      'ready:abcdefabcdef-0',
      'session.created:abcdefabcdef-1',
      'heartbeat:abcdefabcdef-2',
    ]);
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
