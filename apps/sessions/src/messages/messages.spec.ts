import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppendMessage,
  ArchiveSession,
  CreateSession,
  DomainError,
  ErrorCode,
  GetSession,
  ListMessages,
  MessageAppended,
  type CallerScope,
  type ChatMessageView,
  type EventEnvelope,
  type PayloadOf,
  type SessionView,
} from '@runyard/contracts';
import type { InProcessBus } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import type { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { startSessionsFixture, type SessionsFixture } from '../sessions.fixture.js';

// Standalone pieces (embedded Postgres + in-process bus), called over the bus as the gateway does.
// Every test works in a session of its own.
let fixture: SessionsFixture;
let bus: InProcessBus;
let dataSource: DataSource;
let events: EventEnvelope[];

beforeAll(async () => {
  fixture = await startSessionsFixture();
  ({ bus, dataSource, events } = fixture);
}, 60_000);

afterAll(() => fixture.close());

function member(): CallerScope {
  return { tenant_id: uuidv7(), principal_id: uuidv7(), role: 'member' };
}

async function sessionOf(scope: CallerScope): Promise<SessionView> {
  return bus.request(CreateSession, { scope, body: {} });
}

function append(scope: CallerScope, sessionId: string, body: PayloadOf<typeof AppendMessage>['body']): Promise<ChatMessageView> {
  return bus.request(AppendMessage, { scope, session_id: sessionId, body });
}

async function failure(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError, got a result');
}

async function allMessages(scope: CallerScope, sessionId: string, limit: number, after_seq?: number): Promise<{ seqs: number[]; sizes: number[] }> {
  const seqs: number[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  do {
    const query = { limit, ...(after_seq === undefined ? {} : { after_seq }), ...(cursor === undefined ? {} : { cursor }) };
    const page = await bus.request(ListMessages, { scope, session_id: sessionId, query });
    seqs.push(...page.data.map((message) => message.seq));
    sizes.push(page.data.length);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return { seqs, sizes };
}

function appendedIn(sessionId: string): EventEnvelope[] {
  return events.filter((event) => event.subject === MessageAppended.subject && event.session_id === sessionId);
}

describe('appending messages', () => {
  it('stores plain content also as one text item, numbered from 1, authored by the caller', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    const message = await append(alice, session.id, { role: 'user', content: 'Hello there', metadata: { via: 'cli' } });
    expect(message).toEqual({
      id: expect.any(String),
      session_id: session.id,
      seq: 1,
      role: 'user',
      content: 'Hello there',
      input_items: [{ type: 'text', text: 'Hello there' }],
      metadata: { via: 'cli' },
      author_id: alice.principal_id,
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    });
    const page = await bus.request(ListMessages, { scope: alice, session_id: session.id, query: {} });
    expect(page).toEqual({ data: [message], next_cursor: null });
    expect((await bus.request(GetSession, { scope: alice, session_id: session.id })).message_count).toBe(1);
  });

  it('stores input items as given and their text parts as content', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    const input_items = [
      { type: 'text' as const, text: 'Summarise this' },
      { type: 'file' as const, file_id: 'file_1', name: 'q3.pdf', mime_type: 'application/pdf' },
      { type: 'text' as const, text: 'in three bullets' },
    ];
    const message = await append(alice, session.id, { role: 'user', input_items });
    expect(message).toMatchObject({ content: 'Summarise this\n\nin three bullets', input_items, metadata: {} });
    const filesOnly = await append(alice, session.id, { role: 'user', input_items: [{ type: 'file', url: 'https://files.example/a.png' }] });
    expect(filesOnly).toMatchObject({ seq: 2, content: null, input_items: [{ type: 'file', url: 'https://files.example/a.png' }] });
    expect((await bus.request(ListMessages, { scope: alice, session_id: session.id, query: {} })).data).toEqual([message, filesOnly]);
  });

  it('numbers 50 concurrent appends 1..50 without gaps or duplicates', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    const appended = await Promise.all(Array.from({ length: 50 }, (_, i) => append(alice, session.id, { role: 'user', content: `m${i}` })));
    const expected = Array.from({ length: 50 }, (_, i) => i + 1);
    expect(appended.map((message) => message.seq).sort((a, b) => a - b)).toEqual(expected);
    expect((await allMessages(alice, session.id, 200)).seqs).toEqual(expected);
    expect((await bus.request(GetSession, { scope: alice, session_id: session.id })).message_count).toBe(50);
  });

  it('publishes MessageAppended with the message, owner and session', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    const message = await append(alice, session.id, { role: 'assistant', content: 'Done.' });
    await expectEventually(() =>
      expect(appendedIn(session.id)).toEqual([
        {
          id: expect.any(String),
          subject: MessageAppended.subject,
          tenant_id: alice.tenant_id,
          owner_id: alice.principal_id,
          session_id: session.id,
          occurred_at: expect.any(String),
          data: message,
        },
      ]),
    );
  });

  it('refuses an archived session, and the refusal changes and publishes nothing', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    await append(alice, session.id, { role: 'user', content: 'first' });
    await bus.request(ArchiveSession, { scope: alice, session_id: session.id });
    expect((await failure(append(alice, session.id, { role: 'user', content: 'late' }))).code).toBe(ErrorCode.SESSION_ARCHIVED);
    expect((await allMessages(alice, session.id, 10)).seqs).toEqual([1]);
    expect((await bus.request(GetSession, { scope: alice, session_id: session.id })).message_count).toBe(1);

    const marker = await sessionOf(alice);
    await append(alice, marker.id, { role: 'user', content: 'marker' });
    await expectEventually(() => expect(appendedIn(marker.id)).toHaveLength(1));
    expect(appendedIn(session.id).map((event) => (event.data as ChatMessageView).seq)).toEqual([1]);
  });

  it('rolls back the seq and publishes nothing when the message cannot be stored', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    await append(alice, session.id, { role: 'user', content: 'first' });
    // A failure after the seq was taken, inside the same transaction.
    await dataSource.query(`ALTER TABLE chat_messages ADD CONSTRAINT spec_refuses_poison CHECK (content IS DISTINCT FROM 'poison')`);
    try {
      expect((await failure(append(alice, session.id, { role: 'user', content: 'poison' }))).code).toBe(ErrorCode.INTERNAL_ERROR);
    } finally {
      await dataSource.query(`ALTER TABLE chat_messages DROP CONSTRAINT spec_refuses_poison`);
    }
    expect((await bus.request(GetSession, { scope: alice, session_id: session.id })).message_count).toBe(1);
    const next = await append(alice, session.id, { role: 'user', content: 'second' });
    expect(next.seq).toBe(2);
    await expectEventually(() => expect(appendedIn(session.id).map((event) => (event.data as ChatMessageView).content)).toEqual(['first', 'second']));
  });

  it('refuses invalid bodies with VALIDATION_FAILED', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    const bodies: unknown[] = [
      { role: 'user' },
      { role: 'user', content: '' },
      { role: 'robot', content: 'hi' },
      { role: 'user', content: 'a', input_items: [{ type: 'text', text: 'b' }] },
      { role: 'user', input_items: [] },
      { role: 'user', input_items: [{ type: 'text' }] },
      { role: 'user', input_items: [{ type: 'file' }] },
      { role: 'user', input_items: [{ type: 'file', url: 'ftp://files.example/a' }] },
      { role: 'user', content: 'hi', metadata: 'x' },
      { role: 'user', content: 'hi', extra: 1 },
    ];
    for (const body of bodies) {
      const error = await failure(bus.request(AppendMessage, { scope: alice, session_id: session.id, body } as PayloadOf<typeof AppendMessage>));
      expect({ body, code: error.code }).toEqual({ body, code: ErrorCode.VALIDATION_FAILED });
    }
    const withoutBody = await failure(bus.request(AppendMessage, { scope: alice, session_id: session.id } as PayloadOf<typeof AppendMessage>));
    expect(withoutBody.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect((await bus.request(GetSession, { scope: alice, session_id: session.id })).message_count).toBe(0);
  });
});

describe('listing messages', () => {
  it('pages in ascending seq without duplicates or gaps, honouring after_seq', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    for (let i = 1; i <= 7; i++) await append(alice, session.id, { role: i % 2 === 1 ? 'user' : 'assistant', content: `m${i}` });
    expect(await allMessages(alice, session.id, 3)).toEqual({ seqs: [1, 2, 3, 4, 5, 6, 7], sizes: [3, 3, 1] });
    expect(await allMessages(alice, session.id, 2, 3)).toEqual({ seqs: [4, 5, 6, 7], sizes: [2, 2] });
    expect(await allMessages(alice, session.id, 10, 7)).toEqual({ seqs: [], sizes: [0] });
  });

  it('takes the further of after_seq and the cursor', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    for (let i = 1; i <= 5; i++) await append(alice, session.id, { role: 'user', content: `m${i}` });
    const first = await bus.request(ListMessages, { scope: alice, session_id: session.id, query: { limit: 2 } });
    const cursor = first.next_cursor!;
    const behindCursor = await bus.request(ListMessages, { scope: alice, session_id: session.id, query: { cursor, after_seq: 1 } });
    expect(behindCursor.data.map((message) => message.seq)).toEqual([3, 4, 5]);
    const aheadOfCursor = await bus.request(ListMessages, { scope: alice, session_id: session.id, query: { cursor, after_seq: 4 } });
    expect(aheadOfCursor.data.map((message) => message.seq)).toEqual([5]);
  });

  it('refuses a cursor it did not issue', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    for (const cursor of ['%%%', Buffer.from(JSON.stringify({ seq: -1 })).toString('base64url'), Buffer.from(JSON.stringify({ id: 'x' })).toString('base64url')]) {
      const error = await failure(bus.request(ListMessages, { scope: alice, session_id: session.id, query: { cursor } }));
      expect(error.code).toBe(ErrorCode.INVALID_CURSOR);
    }
  });

  it('answers NOT_FOUND for an unknown session', async () => {
    expect((await failure(bus.request(ListMessages, { scope: member(), session_id: uuidv7(), query: {} }))).code).toBe(ErrorCode.NOT_FOUND);
    expect((await failure(append(member(), uuidv7(), { role: 'user', content: 'hi' }))).code).toBe(ErrorCode.NOT_FOUND);
  });
});
