import { AppendLogLines, type LogAppendResult, type LogLineInput, type PayloadOf } from '@runyard/contracts';
import type { Bus, Registration } from '@runyard/messaging';

export interface SunkLine extends LogLineInput {
  seq: number;
}

export interface SunkBatch {
  runId: string;
  producerId: string;
  batchSeq: number;
  lines: number;
}

/**
 * The transcripts service's append contract, in memory, for worker tests: lines numbered 1, 2, 3…
 * per run in arrival order; a batch with the producer id and batch_seq of one already stored is not
 * stored again and gets the first reply. Like the service, it takes batches from the work queue
 * (`Bus.work`). It can be taken down (batches wait in the queue) and made to fail after storing a
 * batch (as a crash between commit and reply would: the batch is delivered again).
 */
export class LogSink {
  /** Every batch request received, stored or not, in order. */
  readonly received: SunkBatch[] = [];
  private readonly runs = new Map<string, SunkLine[]>();
  private readonly replies = new Map<string, LogAppendResult>();
  private registration: Registration | undefined;
  private repliesToLose = 0;

  private constructor(private readonly bus: Bus) {}

  static async start(bus: Bus): Promise<LogSink> {
    const sink = new LogSink(bus);
    await sink.up();
    return sink;
  }

  /** The run's stored lines, in seq order. */
  lines(runId: string): SunkLine[] {
    return this.runs.get(runId) ?? [];
  }

  /** The next `count` deliveries store their batch, then fail: the queue delivers them again. */
  failAfterStoring(count = 1): void {
    this.repliesToLose = count;
  }

  async down(): Promise<void> {
    await this.registration?.stop();
    this.registration = undefined;
  }

  async up(): Promise<void> {
    this.registration ??= await this.bus.work(AppendLogLines, { durable: 'log-sink', handler: (payload) => Promise.resolve(this.append(payload)) });
  }

  private append(payload: PayloadOf<typeof AppendLogLines>): LogAppendResult {
    const producer = payload.producer;
    this.received.push({ runId: payload.run_id, producerId: producer?.id ?? '', batchSeq: producer?.batch_seq ?? -1, lines: payload.lines.length });
    const key = producer === undefined ? undefined : `${payload.run_id} ${producer.id} ${producer.batch_seq}`;
    let reply = key === undefined ? undefined : this.replies.get(key);
    if (reply === undefined) {
      const lines = this.runs.get(payload.run_id) ?? [];
      this.runs.set(payload.run_id, lines);
      const firstSeq = lines.length + 1;
      for (const line of payload.lines) lines.push({ ...line, seq: lines.length + 1 });
      reply = { first_seq: firstSeq, last_seq: lines.length, accepted: payload.lines.length, truncated: 0, refused: 0, limit_reached: false };
      if (key !== undefined) this.replies.set(key, reply);
    }
    if (this.repliesToLose > 0) {
      this.repliesToLose--;
      throw new Error('failed after storing, by the test');
    }
    return reply;
  }
}
