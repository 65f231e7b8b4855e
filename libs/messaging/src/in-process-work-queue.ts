import { type AnyCommand, DomainError, ErrorCode, type PayloadOf, type ReplyOf } from '@runyard/contracts';
import type { CommandHandlerFn, MessageHeaders, Registration, SubmitOptions, WorkOptions } from './bus.js';
import { unwrapReply } from './command-reply.js';
import { assertMessageFits } from './message-size.js';
import type { MessagingLogger } from './messaging-logger.js';
import { traceContext, withTraceHeaders } from './trace-context.js';
import { handleWork, workRetryDelayMs } from './work-handling.js';

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_IN_FLIGHT = 16;

/** A queued command; it stays in `byId` (so a submit with its id joins it) until it is answered. */
interface QueuedWork {
  id: string;
  /** Stored serialised, so every delivery gets its own copy. */
  data: string;
  headers: MessageHeaders;
  deliveries: number;
  /** Not delivered before this (epoch ms): a retry's backoff. */
  readyAt: number;
  waiters: Set<(wire: string) => void>;
}

interface Worker {
  command: AnyCommand;
  handler: CommandHandlerFn<AnyCommand>;
  maxInFlight: number;
  inFlight: Set<Promise<void>>;
}

interface Queue {
  ready: QueuedWork[];
  byId: Map<string, QueuedWork>;
  workers: Worker[];
  next: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The in-memory twin of NatsWorkQueue for standalone mode: one queue per command subject, delivered
 * to its workers round robin within their maxInFlight, a retry backed off, and a submit with the id
 * of a command not yet answered joining it. "Durable" here means for the life of the process.
 */
export class InProcessWorkQueue {
  private readonly queues = new Map<string, Queue>();
  private closed = false;

  constructor(
    private readonly logger: MessagingLogger,
    private readonly maxPayloadBytes: number,
  ) {}

  private queue(subject: string): Queue {
    let queue = this.queues.get(subject);
    if (!queue) this.queues.set(subject, (queue = { ready: [], byId: new Map(), workers: [], next: 0, timer: undefined }));
    return queue;
  }

  async submit<C extends AnyCommand>(command: C, payload: PayloadOf<C>, options: SubmitOptions): Promise<ReplyOf<C>> {
    if (this.closed) throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'The bus is closed');
    const data = JSON.stringify(payload ?? null);
    const headers = withTraceHeaders(options.headers, traceContext());
    assertMessageFits(`The command on ${command.subject}`, data, headers, this.maxPayloadBytes);
    const queue = this.queue(command.subject);
    let work = queue.byId.get(options.messageId);
    if (!work) {
      work = { id: options.messageId, data, headers, deliveries: 0, readyAt: 0, waiters: new Set() };
      queue.byId.set(work.id, work);
      queue.ready.push(work);
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let deliver!: (wire: string) => void;
    let timer: NodeJS.Timeout | undefined;
    const reply = new Promise<string>((resolve, reject) => {
      deliver = resolve;
      timer = setTimeout(() => reject(new DomainError(ErrorCode.UPSTREAM_TIMEOUT, `No reply on ${command.subject} within ${timeoutMs} ms (the command stays queued)`)), timeoutMs);
    });
    work.waiters.add(deliver);
    // As across a network: the worker runs on a later tick than the submitter.
    setImmediate(() => this.pump(command.subject));
    try {
      return unwrapReply<ReplyOf<C>>(JSON.parse(await reply), command.subject);
    } finally {
      clearTimeout(timer);
      work.waiters.delete(deliver);
    }
  }

  work<C extends AnyCommand>(command: C, options: WorkOptions<C>): Registration {
    if (this.closed) throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'The bus is closed');
    const worker: Worker = {
      command,
      handler: options.handler as CommandHandlerFn<AnyCommand>,
      maxInFlight: Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT),
      inFlight: new Set(),
    };
    const queue = this.queue(command.subject);
    queue.workers.push(worker);
    setImmediate(() => this.pump(command.subject));
    let stopped = false;
    return {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        queue.workers = queue.workers.filter((w) => w !== worker);
        await Promise.allSettled([...worker.inFlight]);
      },
    };
  }

  /** Hands ready commands to workers with room, round robin; wakes up again for the next backed-off one. */
  private pump(subject: string): void {
    const queue = this.queue(subject);
    if (this.closed) return;
    const now = Date.now();
    for (let i = 0; i < queue.ready.length; ) {
      const work = queue.ready[i];
      if (work.readyAt > now) {
        i++;
        continue;
      }
      const worker = this.freeWorker(queue);
      if (!worker) return;
      queue.ready.splice(i, 1);
      this.deliver(subject, worker, work);
    }
    const next = Math.min(...queue.ready.map((work) => work.readyAt));
    if (Number.isFinite(next) && queue.timer === undefined) {
      queue.timer = setTimeout(() => {
        queue.timer = undefined;
        this.pump(subject);
      }, next - now).unref();
    }
  }

  private freeWorker(queue: Queue): Worker | undefined {
    for (let k = 0; k < queue.workers.length; k++) {
      const worker = queue.workers[queue.next++ % queue.workers.length];
      if (worker.inFlight.size < worker.maxInFlight) return worker;
    }
    return undefined;
  }

  private deliver(subject: string, worker: Worker, work: QueuedWork): void {
    work.deliveries++;
    const served = (async () => {
      const outcome = await handleWork(worker.command, worker.handler, JSON.parse(work.data), { subject, headers: work.headers }, this.logger, this.maxPayloadBytes, work.deliveries);
      const queue = this.queue(subject);
      if (outcome.kind === 'retry') {
        work.readyAt = Date.now() + workRetryDelayMs(work.deliveries);
        queue.ready.push(work);
        return;
      }
      queue.byId.delete(work.id);
      for (const waiter of work.waiters) waiter(outcome.wire);
    })();
    worker.inFlight.add(served);
    void served.finally(() => {
      worker.inFlight.delete(served);
      this.pump(subject);
    });
  }

  /** Stops delivering; submitters still waiting get SERVICE_UNAVAILABLE. */
  close(): void {
    this.closed = true;
    const closedError = JSON.stringify({ ok: false, error: { code: ErrorCode.SERVICE_UNAVAILABLE, message: 'The bus is closed' } });
    for (const queue of this.queues.values()) {
      clearTimeout(queue.timer);
      for (const work of queue.byId.values()) for (const waiter of work.waiters) waiter(closedError);
    }
  }
}
