import { Inject, Injectable } from '@nestjs/common';
import {
  CreateRun,
  DomainError,
  ErrorCode,
  ListRuns,
  ownerFilter,
  type CallerScope,
  type ChatMessageView,
  type CreateRunBody,
  type CreateTurnBody,
  type TurnView,
} from '@runyard/contracts';
import { BUS, type Bus } from '@runyard/messaging';
import { MessageAppender } from '../messages/message-appender.service.js';
import { normaliseMessageContent } from '../messages/message-content.js';
import { sessionNotFound } from '../sessions/session-errors.js';
import { SessionsRepository } from '../sessions/sessions.repository.js';

/** Statuses in which a top-level run holds its session's slot (as the runs service defines them). */
const ACTIVE_STATUSES = 'pending,running,waiting_for_approval,waiting_for_input,cancelling';

/** The run's idempotency key: one run per turn message, however often the turn is retried. */
export function turnRunKey(messageId: string): string {
  return `turn:${messageId}`;
}

/**
 * Turn intake: the user's chat message, then the `chat` run it asks for, as two steps that each
 * happen once. The message is appended in this service's own transaction (deduplicated by the
 * caller's idempotency key); only after it committed is the run requested from the runs service,
 * with a key derived from the message id — so a retry after a failure between the two steps finds
 * the message and completes the turn with one run. (Standalone mode shares one database connection
 * between the services: a transaction held across a request to another service would deadlock.)
 */
@Injectable()
export class TurnsService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly appender: MessageAppender,
    @Inject(BUS) private readonly bus: Bus,
  ) {}

  /**
   * Busy policy `reject` refuses the turn before its message is appended when the session already
   * has an active run, so a refused turn leaves no trace in the chat (what a chat user expects of
   * "busy, try again"). That check and the run's creation are separate steps: a run that starts in
   * between still gets the turn refused by the runs service (409), with the message kept — a retry
   * with the same key completes it once the session is free.
   */
  async create(scope: CallerScope, sessionId: string, body: CreateTurnBody, idempotencyKey?: string): Promise<TurnView> {
    const content = normaliseMessageContent(body);
    const session = await this.sessions.findVisible(scope.tenant_id, ownerFilter(scope), sessionId);
    if (session === null) throw sessionNotFound(sessionId);

    let message = idempotencyKey === undefined ? null : await this.appender.findAppended(scope, sessionId, idempotencyKey);
    if (message === null) {
      if (body.busy_policy === 'reject') await this.refuseIfBusy(scope, sessionId);
      // A concurrent duplicate of this turn that commits first makes this its message.
      message = await this.appender.append(scope, sessionId, { role: 'user', content, metadata: body.metadata }, idempotencyKey);
    }
    // The message has committed: only now is another service asked (see the class comment).
    const run = await this.bus.request(CreateRun, { scope, body: runBody(message, body), idempotency_key: turnRunKey(message.id) });
    return { message, run };
  }

  private async refuseIfBusy(scope: CallerScope, sessionId: string): Promise<void> {
    const active = await this.bus.request(ListRuns, { scope, query: { session_id: sessionId, status: ACTIVE_STATUSES, limit: 200 } });
    // Sub-runs do not hold the slot; only a top-level run makes the session busy.
    const holder = active.data.find((run) => run.parent_run_id === null);
    if (holder !== undefined) throw new DomainError(ErrorCode.SESSION_BUSY, `session ${sessionId} has an active run (${holder.id})`);
  }
}

/**
 * The turn's run: source `chat`, in the session, with the message as input — its text when it is
 * one text part, else its parts. Taken from the stored message, so a retry creates the same run.
 */
function runBody(message: ChatMessageView, body: CreateTurnBody): CreateRunBody {
  const [first, ...rest] = message.input_items;
  const run: CreateRunBody = { session_id: message.session_id, source: 'chat', metadata: { message_id: message.id } };
  if (rest.length === 0 && first?.type === 'text' && first.text !== undefined) run.input = first.text;
  else run.input_items = message.input_items;
  if (body.busy_policy !== undefined) run.busy_policy = body.busy_policy;
  if (body.route !== undefined) run.route = body.route;
  return run;
}
