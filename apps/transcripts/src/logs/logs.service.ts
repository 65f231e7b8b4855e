import { Inject, Injectable } from '@nestjs/common';
import {
  DEFAULT_LOG_PAGE_LIMIT,
  DomainError,
  ErrorCode,
  GetRunLogAccess,
  LOG_BATCH_MAX_BYTES,
  LogAppended,
  ownerFilter,
  TERMINAL_RUN_STATUSES,
  type AppendLogLinesPayload,
  type CallerScope,
  type LogAppendResult,
  type LogLinesQuery,
  type LogLineView,
  type LogStateView,
  type Page,
} from '@runyard/contracts';
import { BUS, newEvent, TransactionalOutbox, type Bus, type EventRefs } from '@runyard/messaging';
import { toPage } from '@runyard/persistence';
import { toStoredText } from './log-text.js';
import { LOGS_SETTINGS, type LogsSettings } from './logs-settings.js';
import { LogsRepository, type NewLine, type RunLog, type StoredLine } from './logs.repository.js';
import { TenantLogBudget } from './tenant-log-budget.js';

/** The line that ends a full log. */
export const LOG_LIMIT_MARKER = 'log truncated: limit reached';
const SEQ = /^(0|[1-9][0-9]{0,15})$/;

export function logEventRefs(log: Pick<RunLog, 'tenantId' | 'ownerId' | 'sessionId' | 'runId'>): EventRefs {
  const refs: EventRefs = { tenant_id: log.tenantId, owner_id: log.ownerId, run_id: log.runId };
  if (log.sessionId !== null) refs.session_id = log.sessionId;
  return refs;
}

function logClosed(runId: string): DomainError {
  return new DomainError(ErrorCode.RUN_TERMINAL, `run ${runId} has ended and its log is closed: it takes no more lines`);
}

function logFull(runId: string, settings: LogsSettings): DomainError {
  return new DomainError(
    ErrorCode.PAYLOAD_TOO_LARGE,
    `the log of run ${runId} reached its limit (${settings.maxLinesPerRun} lines or ${settings.maxBytesPerRun} bytes): it takes no more lines`,
  );
}

function toView(line: StoredLine): LogLineView {
  return { run_id: line.runId, seq: line.seq, stream: line.stream, level: line.level, time: line.time.toISOString(), text: line.text, truncated: line.truncated };
}

/**
 * Run logs: append (numbered in commit order, idempotent per producer batch, within the limits) and
 * read. A run's log opens with its first batch, once the runs service confirmed the run (and told
 * whose it is); it closes a grace period after the run ended (LogCloser).
 */
@Injectable()
export class LogsService {
  constructor(
    private readonly logs: LogsRepository,
    private readonly outbox: TransactionalOutbox,
    private readonly budget: TenantLogBudget,
    @Inject(BUS) private readonly bus: Bus,
    @Inject(LOGS_SETTINGS) private readonly settings: LogsSettings,
  ) {}

  /** Resolves once the batch is committed (or was, for a producer's retry: then with the first reply). */
  async append(payload: AppendLogLinesPayload): Promise<LogAppendResult> {
    const { tenant_id: tenantId, run_id: runId, producer } = payload;
    const incomingBytes = payload.lines.reduce((sum, line) => sum + Buffer.byteLength(line.text, 'utf8'), 0);
    if (incomingBytes > LOG_BATCH_MAX_BYTES) {
      throw new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, `a batch carries at most ${LOG_BATCH_MAX_BYTES} bytes of text; this one has ${incomingBytes}: send smaller batches`);
    }
    await this.budget.check(tenantId);
    const received = new Date();
    const prepared = payload.lines.map((line, index) => {
      const stored = toStoredText(line.text);
      return { line: { stream: line.stream, level: line.level ?? 'info', time: lineTime(line.time, index, received), text: stored.text, truncated: stored.truncated }, bytes: stored.bytes };
    });
    // At most twice: the first attempt may find no log yet; the second runs after opening it.
    for (let attempt = 0; attempt < 2; attempt++) {
      const outcome = await this.outbox.run(async (tx, events) => {
        const log = await this.logs.lockForAppend(tx, tenantId, runId);
        if (log === null) return null;
        if (producer !== undefined) {
          const earlier = await this.logs.findBatchReply(tx, runId, producer.id, producer.batch_seq);
          if (earlier !== null) return { reply: earlier, stored: 0 };
        }
        if (log.closedAt !== null || (log.closesAt !== null && log.closesAt.getTime() <= received.getTime())) throw logClosed(runId);
        if (log.limitReached) throw logFull(runId, this.settings);
        const { lines, bytes, accepted, limitReached } = this.fit(log, prepared);
        const firstSeq = log.lastSeq + 1;
        const lastSeq = log.lastSeq + lines.length;
        const reply: LogAppendResult = {
          first_seq: lines.length === 0 ? 0 : firstSeq,
          last_seq: lines.length === 0 ? 0 : lastSeq,
          accepted,
          truncated: prepared.slice(0, accepted).filter((entry) => entry.line.truncated).length,
          refused: prepared.length - accepted,
          limit_reached: limitReached,
        };
        await this.logs.append(tx, {
          tenantId,
          runId,
          firstSeq,
          lines,
          counters: { lastSeq, bytes: log.bytes + bytes, limitReached },
          batch: producer === undefined ? undefined : { producerId: producer.id, batchSeq: producer.batch_seq, reply },
        });
        if (lines.length > 0) events.add(newEvent(LogAppended, logEventRefs(log), { run_id: runId, first_seq: firstSeq, last_seq: lastSeq }));
        return { reply, stored: bytes };
      });
      if (outcome !== null) {
        await this.budget.charge(tenantId, outcome.stored);
        return outcome.reply;
      }
      await this.open(tenantId, runId);
    }
    throw new Error(`the log of run ${runId} could not be opened`);
  }

  /** The run's lines in seq order, filtered; `next_cursor` is the seq of the last line of the page. */
  async list(scope: CallerScope, runId: string, query: LogLinesQuery): Promise<Page<LogLineView>> {
    const log = await this.visibleLog(scope, runId);
    const limit = query.limit ?? DEFAULT_LOG_PAGE_LIMIT;
    if (log === null) return { data: [], next_cursor: null };
    const afterSeq = query.cursor !== undefined ? parseSeqCursor(query.cursor) : (query.after_seq ?? 0);
    const rows = await this.logs.listLines(log.tenantId, log.runId, {
      afterSeq,
      since: query.since === undefined ? undefined : new Date(query.since),
      until: query.until === undefined ? undefined : new Date(query.until),
      stream: query.stream,
      take: limit + 1,
    });
    return toPage(rows, limit, toView, (row) => String(row.seq));
  }

  async state(scope: CallerScope, runId: string): Promise<LogStateView> {
    const log = await this.visibleLog(scope, runId);
    if (log === null) return { run_id: runId, last_seq: 0, bytes: 0, limit_reached: false, closed: false };
    return { run_id: runId, last_seq: log.lastSeq, bytes: log.bytes, limit_reached: log.limitReached, closed: log.closedAt !== null };
  }

  /**
   * The run's log if it has one. A log the caller may not see is NOT_FOUND (members see their own
   * runs' only); no log yet is null — the gateway has already checked that the run is visible.
   */
  private async visibleLog(scope: CallerScope, runId: string): Promise<RunLog | null> {
    const log = await this.logs.findVisible(scope.tenant_id, undefined, runId);
    if (log === null) return null;
    const owner = ownerFilter(scope);
    if (owner !== undefined && log.ownerId !== owner) throw new DomainError(ErrorCode.NOT_FOUND, `run ${runId} not found`);
    return log;
  }

  /** The lines that fit in the log's limits; past them, the limit marker (and the rest is refused). */
  private fit(log: RunLog, prepared: { line: NewLine; bytes: number }[]): { lines: NewLine[]; bytes: number; accepted: number; limitReached: boolean } {
    const { maxLinesPerRun, maxBytesPerRun } = this.settings;
    const lines: NewLine[] = [];
    let bytes = 0;
    for (const entry of prepared) {
      // The last line of a full log is the marker: regular lines stop one short of the line limit.
      if (log.lastSeq + lines.length + 1 >= maxLinesPerRun || log.bytes + bytes + entry.bytes > maxBytesPerRun) {
        const marker: NewLine = { stream: 'system', level: 'warn', time: new Date(), text: LOG_LIMIT_MARKER, truncated: false };
        const accepted = lines.length;
        lines.push(marker);
        return { lines, bytes: bytes + Buffer.byteLength(LOG_LIMIT_MARKER, 'utf8'), accepted, limitReached: true };
      }
      lines.push(entry.line);
      bytes += entry.bytes;
    }
    return { lines, bytes, accepted: lines.length, limitReached: false };
  }

  /** Opens the run's log after asking the runs service about the run (NOT_FOUND comes from there). */
  private async open(tenantId: string, runId: string): Promise<void> {
    const run = await this.bus.request(GetRunLogAccess, { tenant_id: tenantId, run_id: runId });
    const endedAt = TERMINAL_RUN_STATUSES.has(run.status) && run.finished_at !== null ? new Date(run.finished_at) : null;
    await this.logs.open({
      tenantId,
      runId,
      ownerId: run.owner_id,
      sessionId: run.session_id,
      endedAt,
      closesAt: endedAt === null ? null : new Date(endedAt.getTime() + this.settings.closeGraceMs),
    });
  }
}

/**
 * The line's time. ISO 8601 allows forms a Date cannot read (week dates, ordinal dates, basic format):
 * those are refused here, as invalid, rather than failing the batch later.
 */
function lineTime(time: string | undefined, index: number, received: Date): Date {
  if (time === undefined) return received;
  const parsed = new Date(time);
  if (!Number.isNaN(parsed.getTime())) return parsed;
  throw new DomainError(ErrorCode.VALIDATION_FAILED, `Invalid payload: lines.${index}.time: time must be a date-time such as 2026-11-21T04:44:19.123Z`, {
    errors: [{ field: `lines.${index}.time`, message: 'time must be a date-time such as 2026-11-21T04:44:19.123Z' }],
  });
}

function parseSeqCursor(cursor: string): number {
  if (!SEQ.test(cursor)) throw new DomainError(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned');
  return Number(cursor);
}
