import { describe, expect, it } from '@jest/globals';
import { expectEventually } from '@runyard/testing';
import { formatComment, formatEvent, formatRetry, sseEventType, SseWriter } from './sse-writer.js';

describe('SSE frames', () => {
  it('names event types by subject without service prefix and version', () => {
    expect(sseEventType('runs.evt.run.status_changed.v1')).toBe('run.status_changed');
    expect(sseEventType('sessions.evt.message.appended.v1')).toBe('message.appended');
    expect(sseEventType('runs.evt.plan_step.added.v12')).toBe('plan_step.added');
    expect(sseEventType('sessions.evt.session.created.v1')).toBe('session.created');
  });

  it('writes id, event and one data line per line of data, then a blank line', () => {
    expect(formatEvent({ id: 'abc-1', event: 'run.created', data: '{"a":1}' })).toBe('id: abc-1\nevent: run.created\ndata: {"a":1}\n\n');
    expect(formatEvent({ event: 'gap', data: 'one\ntwo\r\nthree' })).toBe('event: gap\ndata: one\ndata: two\ndata: three\n\n');
    expect(formatComment('ping')).toBe(': ping\n\n');
    expect(formatRetry(1500)).toBe('retry: 1500\n\n');
  });
});

describe('SseWriter', () => {
  const frame = (n: number) => formatEvent({ id: String(n), event: 'x', data: 'y'.repeat(1000) });

  it('makes send() wait while the reader is behind, and resume when it reads', async () => {
    const writer = new SseWriter();
    let sent = 0;
    const sending = (async () => {
      for (let i = 0; i < 200; i++) {
        await writer.send(frame(i));
        sent++;
      }
    })();
    await expectEventually(() => expect(writer.isBackpressured).toBe(true));
    const stalledAt = sent;
    expect(stalledAt).toBeLessThan(200);
    // Bounded by the stream's buffers (a high-water mark each side), not by what the sender has.
    expect(writer.body.readableLength).toBeLessThanOrEqual(64 * 1024);

    let received = '';
    writer.body.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await sending;
    expect(sent).toBe(200);
    await expectEventually(() => expect(received.split('\n\n').length - 1).toBe(200));
  });

  it('skips offered frames (heartbeats) while the reader is behind', async () => {
    const writer = new SseWriter();
    while (!writer.isBackpressured) void writer.send(frame(0));
    const buffered = writer.body.readableLength;
    writer.offer(formatComment('ping'));
    await expectEventually(() => expect(writer.body.readableLength).toBe(buffered));
    let received = '';
    writer.body.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await expectEventually(() => expect(writer.isBackpressured).toBe(false));
    expect(received).not.toContain(': ping');
  });

  it('releases a waiting send and ignores later ones once the reader is gone', async () => {
    const writer = new SseWriter();
    let waiting: Promise<void> = Promise.resolve();
    while (!writer.isBackpressured) waiting = writer.send(frame(0));
    writer.destroy();
    await waiting;
    await writer.closed;
    expect(writer.isClosed).toBe(true);
    await writer.send(frame(1));
  });

  it('ends the body after what was written', async () => {
    const writer = new SseWriter();
    let received = '';
    writer.body.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await writer.send(formatComment('one'));
    writer.end();
    await writer.closed;
    expect(received).toBe(': one\n\n');
  });
});
