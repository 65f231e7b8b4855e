import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ArchiveSession,
  CreateRun,
  CreateSession,
  CreateTurn,
  DomainError,
  ErrorCode,
  GetSession,
  ListMessages,
  ListRuns,
  MessageAppended,
  type CallerScope,
  type ChatMessageView,
  type EventEnvelope,
  type Page,
  type PayloadOf,
  type RunView,
  type SessionView,
  type TurnView,
} from '@runyard/contracts';
import type { InProcessBus, Registration } from '@runyard/messaging';
import { expectEventually } from '@runyard/testing';
import { v7 as uuidv7 } from 'uuid';
import { startSessionsFixture, type SessionsFixture } from '../sessions.fixture.js';
import { turnRunKey } from './turns.service.js';

// Turn intake in the sessions service (embedded Postgres + in-process bus), with the runs service
// stood in for by a stub on the bus that records what it is asked: the message is appended once per
// idempotency key, and the run is requested after that with a key derived from the message, so the
// runs service (whose own key handling has its own spec) creates it once.
let fixture: SessionsFixture;
let bus: InProcessBus;
let events: EventEnvelope[];
let stub: RunsStub;

type CreateRunPayload = PayloadOf<typeof CreateRun>;

/** The runs service as far as turns need it: idempotent creates, and the active runs of a session. */
class RunsStub {
  readonly creates: CreateRunPayload[] = [];
  readonly lists: PayloadOf<typeof ListRuns>[] = [];
  /** Active runs ListRuns answers with, by session. */
  readonly active = new Map<string, RunView[]>();
  /** Errors the next creates fail with, in order. */
  readonly failures: DomainError[] = [];
  private readonly byKey = new Map<string, RunView>();
  private registrations: Registration[] = [];

  async start(): Promise<void> {
    this.registrations = [
      await bus.handle(CreateRun, 'runs-stub', (payload) => Promise.resolve(this.create(payload))),
      await bus.handle(ListRuns, 'runs-stub', (payload) => {
        this.lists.push(payload);
        return Promise.resolve<Page<RunView>>({ data: this.active.get(payload.query.session_id ?? '') ?? [], next_cursor: null });
      }),
    ];
  }

  async stop(): Promise<void> {
    await Promise.all(this.registrations.map((registration) => registration.stop()));
  }

  createsIn(sessionId: string): CreateRunPayload[] {
    return this.creates.filter((payload) => payload.body.session_id === sessionId);
  }

  private create(payload: CreateRunPayload): RunView {
    this.creates.push(payload);
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    const key = `${payload.scope.tenant_id}/${payload.scope.principal_id}/${payload.idempotency_key ?? uuidv7()}`;
    const existing = this.byKey.get(key);
    if (existing !== undefined) return existing;
    const run = fakeRun(payload);
    this.byKey.set(key, run);
    return run;
  }
}

function fakeRun(payload: CreateRunPayload): RunView {
  const now = new Date().toISOString();
  return {
    id: uuidv7(),
    tenant_id: payload.scope.tenant_id,
    owner_id: payload.scope.principal_id,
    created_by: payload.scope.principal_id,
    session_id: payload.body.session_id ?? null,
    parent_run_id: null,
    task_id: null,
    job_id: null,
    source: payload.body.source ?? 'api',
    status: 'pending',
    queue_position: null,
    input: payload.body.input ?? null,
    input_items: payload.body.input_items ?? null,
    route: { executor: 'echo' },
    route_source: 'default',
    reply_targets: [],
    metadata: payload.body.metadata ?? {},
    attempt: 0,
    max_attempts: 3,
    ttl_seconds: null,
    max_duration_seconds: null,
    worker_id: null,
    trace_id: null,
    trace_parent_span_id: null,
    output: null,
    failure_class: null,
    failure_message: null,
    cancel_reason: null,
    cancelled_by: null,
    created_at: now,
    updated_at: now,
    started_at: null,
    finished_at: null,
    expires_at: null,
  };
}

beforeAll(async () => {
  fixture = await startSessionsFixture();
  ({ bus, events } = fixture);
  stub = new RunsStub();
  await stub.start();
}, 60_000);

afterEach(() => {
  stub.failures.length = 0;
});

afterAll(async () => {
  await stub?.stop();
  await fixture?.close();
});

function tenant(): { admin: CallerScope; member: () => CallerScope } {
  const tenantId = uuidv7();
  return {
    admin: { tenant_id: tenantId, principal_id: uuidv7(), role: 'admin' },
    member: () => ({ tenant_id: tenantId, principal_id: uuidv7(), role: 'member' }),
  };
}

function sessionOf(scope: CallerScope): Promise<SessionView> {
  return bus.request(CreateSession, { scope, body: {} });
}

function turn(scope: CallerScope, sessionId: string, body: PayloadOf<typeof CreateTurn>['body'], idempotencyKey?: string): Promise<TurnView> {
  const payload = { scope, session_id: sessionId, body };
  return bus.request(CreateTurn, idempotencyKey === undefined ? payload : { ...payload, idempotency_key: idempotencyKey });
}

async function messagesIn(scope: CallerScope, sessionId: string): Promise<ChatMessageView[]> {
  return (await bus.request(ListMessages, { scope, session_id: sessionId, query: { limit: 200 } })).data;
}

function appendedEventsFor(messageId: string): EventEnvelope[] {
  return events.filter((event) => event.subject === MessageAppended.subject && (event.data as ChatMessageView).id === messageId);
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

describe('accepting a turn', () => {
  it('appends the user’s message, then creates a chat run from it with a key derived from the message', async () => {
    const alice = tenant().member();
    const session = await sessionOf(alice);
    const accepted = await turn(alice, session.id, { content: 'Summarise the report', metadata: { via: 'slack' } });
    expect(accepted.message).toMatchObject({
      session_id: session.id,
      seq: 1,
      role: 'user',
      content: 'Summarise the report',
      input_items: [{ type: 'text', text: 'Summarise the report' }],
      metadata: { via: 'slack' },
      author_id: alice.principal_id,
    });
    expect(stub.createsIn(session.id)).toEqual([
      {
        scope: alice,
        body: { session_id: session.id, source: 'chat', input: 'Summarise the report', metadata: { message_id: accepted.message.id } },
        idempotency_key: turnRunKey(accepted.message.id),
      },
    ]);
    expect(accepted.run).toMatchObject({ session_id: session.id, source: 'chat', input: 'Summarise the report' });
    expect(await messagesIn(alice, session.id)).toEqual([accepted.message]);
    await expectEventually(() => expect(appendedEventsFor(accepted.message.id)).toHaveLength(1));
  });

  it('gives the run the message’s parts when there are several, with the turn’s busy policy and route', async () => {
    const alice = tenant().member();
    const session = await sessionOf(alice);
    const input_items = [
      { type: 'text' as const, text: 'Compare' },
      { type: 'file' as const, file_id: 'file_1', name: 'q3.pdf' },
    ];
    const accepted = await turn(alice, session.id, { input_items, busy_policy: 'interrupt', route: { model: 'big' } });
    expect(accepted.message).toMatchObject({ content: 'Compare', input_items });
    expect(stub.createsIn(session.id).map((payload) => payload.body)).toEqual([
      { session_id: session.id, source: 'chat', input_items, busy_policy: 'interrupt', route: { model: 'big' }, metadata: { message_id: accepted.message.id } },
    ]);
  });

  it('answers a retry with the same key with the same message and run, sequential or concurrent', async () => {
    const alice = tenant().member();
    const session = await sessionOf(alice);
    const first = await turn(alice, session.id, { content: 'once' }, 'turn-1');
    const retry = await turn(alice, session.id, { content: 'once' }, 'turn-1');
    expect(retry).toEqual(first);
    const concurrent = await Promise.all(Array.from({ length: 6 }, () => turn(alice, session.id, { content: 'twice?' }, 'turn-2')));
    expect(new Set(concurrent.map((accepted) => accepted.message.id)).size).toBe(1);
    expect(new Set(concurrent.map((accepted) => accepted.run.id)).size).toBe(1);
    expect((await messagesIn(alice, session.id)).map((message) => message.id)).toEqual([first.message.id, concurrent[0].message.id]);
    expect((await bus.request(GetSession, { scope: alice, session_id: session.id })).message_count).toBe(2);
    expect(new Set(stub.createsIn(session.id).map((payload) => payload.idempotency_key))).toEqual(
      new Set([turnRunKey(first.message.id), turnRunKey(concurrent[0].message.id)]),
    );
  });

  it('scopes a key to its principal: the admin and the owner each get a turn of their own with one key', async () => {
    const { admin, member } = tenant();
    const alice = member();
    const session = await sessionOf(alice);
    const hers = await turn(alice, session.id, { content: 'mine' }, 'same-key');
    const theirs = await turn(admin, session.id, { content: 'admin' }, 'same-key');
    expect(theirs.message.id).not.toBe(hers.message.id);
    expect(theirs.message).toMatchObject({ seq: 2, author_id: admin.principal_id, content: 'admin' });
  });

  it('returns the error when the run cannot be created, and completes the turn on a retry without a second message', async () => {
    const alice = tenant().member();
    const session = await sessionOf(alice);
    stub.failures.push(new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'runs are down'));
    expect((await failure(turn(alice, session.id, { content: 'are you there?' }, 'flaky'))).code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    const [appended] = await messagesIn(alice, session.id);
    expect(appended).toMatchObject({ seq: 1, content: 'are you there?' });
    const retried = await turn(alice, session.id, { content: 'are you there?' }, 'flaky');
    expect(retried.message).toEqual(appended);
    expect(retried.run.metadata).toEqual({ message_id: appended.id });
    expect(await messagesIn(alice, session.id)).toEqual([appended]);
    expect(stub.createsIn(session.id).map((payload) => payload.idempotency_key)).toEqual([turnRunKey(appended.id), turnRunKey(appended.id)]);
  });
});

describe('busy sessions', () => {
  it('refuses a turn with busy policy reject while a run holds the session, appending nothing', async () => {
    const alice = tenant().member();
    const session = await sessionOf(alice);
    const holder = fakeRun({ scope: alice, body: { session_id: session.id } });
    stub.active.set(session.id, [holder]);
    expect((await failure(turn(alice, session.id, { content: 'hello?', busy_policy: 'reject' }, 'busy'))).code).toBe(ErrorCode.SESSION_BUSY);
    expect(await messagesIn(alice, session.id)).toEqual([]);
    expect(stub.createsIn(session.id)).toEqual([]);
    expect(stub.lists.filter((payload) => payload.query.session_id === session.id).map((payload) => payload.query.status)).toEqual([
      'pending,running,waiting_for_approval,waiting_for_input,cancelling',
    ]);
    // Once the session is free the same turn goes through; other policies never ask.
    stub.active.delete(session.id);
    const accepted = await turn(alice, session.id, { content: 'hello?', busy_policy: 'reject' }, 'busy');
    expect(accepted.message.seq).toBe(1);
    stub.active.set(session.id, [holder]);
    expect((await turn(alice, session.id, { content: 'queue me' })).message.seq).toBe(2);
  });

  it('does not count active sub-runs as holding the session', async () => {
    const alice = tenant().member();
    const session = await sessionOf(alice);
    stub.active.set(session.id, [{ ...fakeRun({ scope: alice, body: { session_id: session.id } }), parent_run_id: uuidv7() }]);
    expect((await turn(alice, session.id, { content: 'go', busy_policy: 'reject' })).message.seq).toBe(1);
  });

  it('answers a retried reject turn whose run now holds the session with the original turn', async () => {
    const alice = tenant().member();
    const session = await sessionOf(alice);
    const first = await turn(alice, session.id, { content: 'work', busy_policy: 'reject' }, 'held');
    stub.active.set(session.id, [first.run]);
    expect(await turn(alice, session.id, { content: 'work', busy_policy: 'reject' }, 'held')).toEqual(first);
  });
});

describe('scoping and bad input', () => {
  it('answers NOT_FOUND for another member’s, another tenant’s and an unknown session, and changes nothing', async () => {
    const { admin, member } = tenant();
    const alice = member();
    const bob = member();
    const session = await sessionOf(alice);
    const stranger = tenant().admin;
    for (const [scope, sessionId] of [
      [bob, session.id],
      [stranger, session.id],
      [alice, uuidv7()],
    ] as const) {
      expect((await failure(turn(scope, sessionId, { content: 'hi' }, 'k'))).code).toBe(ErrorCode.NOT_FOUND);
    }
    expect(await messagesIn(alice, session.id)).toEqual([]);
    expect(stub.createsIn(session.id)).toEqual([]);
    // The tenant's admin may take a turn in any of its sessions.
    expect((await turn(admin, session.id, { content: 'admin here' })).message.author_id).toBe(admin.principal_id);
  });

  it('refuses a turn in an archived session with SESSION_ARCHIVED, appending nothing and creating no run', async () => {
    const alice = tenant().member();
    const session = await sessionOf(alice);
    await bus.request(ArchiveSession, { scope: alice, session_id: session.id });
    expect((await failure(turn(alice, session.id, { content: 'late' }))).code).toBe(ErrorCode.SESSION_ARCHIVED);
    expect(await messagesIn(alice, session.id)).toEqual([]);
    expect(stub.createsIn(session.id)).toEqual([]);
  });

  it('refuses bad input with VALIDATION_FAILED, appending nothing', async () => {
    const alice = tenant().member();
    const session = await sessionOf(alice);
    const bad: PayloadOf<typeof CreateTurn>['body'][] = [
      {},
      { content: 'a', input_items: [{ type: 'text', text: 'b' }] },
      { content: '' },
      { content: 'x', busy_policy: 'wait' as never },
      { content: 'x', route: { executor: 'has spaces' } },
      { content: 'x', metadata: null as never },
      { content: 'x', role: 'user' } as never,
    ];
    for (const body of bad) {
      expect({ body, code: (await failure(turn(alice, session.id, body))).code }).toEqual({ body, code: ErrorCode.VALIDATION_FAILED });
    }
    for (const key of ['', 'k'.repeat(256), 'new\nline']) {
      expect({ key, code: (await failure(turn(alice, session.id, { content: 'x' }, key))).code }).toEqual({ key, code: ErrorCode.VALIDATION_FAILED });
    }
    expect(await messagesIn(alice, session.id)).toEqual([]);
    expect(stub.createsIn(session.id)).toEqual([]);
  });
});
