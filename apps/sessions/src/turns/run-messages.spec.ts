import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ArchiveSession,
  CreateSession,
  ListMessages,
  MessageAppended,
  RunMessagePosted,
  type CallerScope,
  type ChatMessageView,
  type EventEnvelope,
  type RunMessageData,
  type SessionView,
} from '@runyard/contracts';
import { newEvent, type InProcessBus } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import { v7 as uuidv7 } from 'uuid';
import { startSessionsFixture, type SessionsFixture } from '../sessions.fixture.js';

// The assistant messages runs post reach their session's chat through the sessions service's durable
// consumer of RunMessagePosted, exactly once per (run, key) however often the event is delivered or
// published. On embedded Postgres + in-process bus (the distributed HTTP suite covers NATS).
let fixture: SessionsFixture;
let bus: InProcessBus;
let events: EventEnvelope[];

beforeAll(async () => {
  fixture = await startSessionsFixture();
  ({ bus, events } = fixture);
}, 60_000);

afterAll(() => fixture.close());

function member(): CallerScope {
  return { tenant_id: uuidv7(), principal_id: uuidv7(), role: 'member' };
}

function sessionOf(scope: CallerScope): Promise<SessionView> {
  return bus.request(CreateSession, { scope, body: {} });
}

function posted(scope: CallerScope, data: RunMessageData): EventEnvelope<RunMessageData> {
  return newEvent(RunMessagePosted, { tenant_id: scope.tenant_id, owner_id: scope.principal_id, session_id: data.session_id, run_id: data.run_id }, data);
}

async function messagesIn(scope: CallerScope, sessionId: string): Promise<ChatMessageView[]> {
  return (await bus.request(ListMessages, { scope, session_id: sessionId, query: { limit: 200 } })).data;
}

function appendedIn(sessionId: string): ChatMessageView[] {
  return events.filter((event) => event.subject === MessageAppended.subject && event.session_id === sessionId).map((event) => event.data as ChatMessageView);
}

describe('assistant messages posted by runs', () => {
  it('appends a run’s message once, however often it is published', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    const runId = uuidv7();
    const data: RunMessageData = { run_id: runId, session_id: session.id, key: 'answer', content: 'Here is the summary.', metadata: { tokens: 42 } };
    const first = posted(alice, data);
    await bus.publish(first);
    // Published again as a new event (a retried post), and the first one again (a relay's second publish).
    await bus.publish(posted(alice, data));
    await bus.publish(first);
    await bus.publish(posted(alice, { ...data, key: 'follow-up', content: 'Anything else?', metadata: {} }));

    await expectEventually(async () => expect((await messagesIn(alice, session.id)).map((message) => message.content)).toEqual(['Here is the summary.', 'Anything else?']));
    const [answer] = await messagesIn(alice, session.id);
    expect(answer).toEqual({
      id: expect.any(String),
      session_id: session.id,
      seq: 1,
      role: 'assistant',
      content: 'Here is the summary.',
      input_items: [{ type: 'text', text: 'Here is the summary.' }],
      metadata: { tokens: 42 },
      author_id: alice.principal_id,
      run_id: runId,
      created_at: expect.any(String),
    });
    await expectEventually(() => expect(appendedIn(session.id).map((message) => message.seq)).toEqual([1, 2]));
    expect(appendedIn(session.id)[0]).toEqual(answer);
  });

  it('keeps one message per key across concurrent duplicates of several runs', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    const runs = [uuidv7(), uuidv7()];
    const all = runs.flatMap((runId) => Array.from({ length: 5 }, () => posted(alice, { run_id: runId, session_id: session.id, key: 'k', content: runId, metadata: {} })));
    await Promise.all(all.map((event) => bus.publish(event)));
    await expectEventually(async () => expect((await messagesIn(alice, session.id)).map((message) => message.run_id).sort()).toEqual([...runs].sort()));
    expect((await messagesIn(alice, session.id)).map((message) => message.seq)).toEqual([1, 2]);
  });

  it('records into an archived session: the chat is the record of what was said', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    await bus.request(ArchiveSession, { scope: alice, session_id: session.id });
    await bus.publish(posted(alice, { run_id: uuidv7(), session_id: session.id, key: 'late', content: 'Finished after all.', metadata: {} }));
    await expectEventually(async () => expect((await messagesIn(alice, session.id)).map((message) => message.content)).toEqual(['Finished after all.']));
  });

  it('drops what it cannot record (invalid data, a session of another tenant) and goes on with the next', async () => {
    const alice = member();
    const session = await sessionOf(alice);
    const mallory = member();
    await bus.publish(posted(alice, { run_id: uuidv7(), session_id: session.id, key: 'bad key!', content: 'x', metadata: {} }));
    await bus.publish(posted(mallory, { run_id: uuidv7(), session_id: session.id, key: 'intrude', content: 'not yours', metadata: {} }));
    await bus.publish(posted(alice, { run_id: uuidv7(), session_id: session.id, key: 'ok', content: 'recorded', metadata: {} }));
    // Delivery is in order, one at a time: once the last is recorded, the two before it were handled.
    await expectEventually(async () => expect((await messagesIn(alice, session.id)).map((message) => message.content)).toEqual(['recorded']));
  });
});
