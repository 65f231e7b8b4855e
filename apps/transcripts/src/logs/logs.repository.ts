import { Injectable } from '@nestjs/common';
import type { LogAppendResult, LogLineLevel, LogLineStream } from '@runyard/contracts';
import { DataSource, type EntityManager } from 'typeorm';

/** A run's log, as its row says (counters as numbers: they stay far below 2^53). */
export interface RunLog {
  runId: string;
  tenantId: string;
  ownerId: string;
  sessionId: string | null;
  lastSeq: number;
  bytes: number;
  limitReached: boolean;
  closesAt: Date | null;
  closedAt: Date | null;
}

/** What the log learns of its run when it opens (from the runs service). */
export interface RunLogOpening {
  tenantId: string;
  runId: string;
  ownerId: string;
  sessionId: string | null;
  /** When the run ended, if it has. */
  endedAt: Date | null;
  /** When the log closes (its run's end + the grace period), if the run has ended. */
  closesAt: Date | null;
}

export interface NewLine {
  stream: LogLineStream;
  level: LogLineLevel;
  time: Date;
  text: string;
  truncated: boolean;
}

export interface StoredLine extends NewLine {
  runId: string;
  seq: number;
}

/** One append's writes (LogsRepository.append). */
export interface LogAppend {
  tenantId: string;
  runId: string;
  firstSeq: number;
  lines: NewLine[];
  /** The log's counters after it. */
  counters: { lastSeq: number; bytes: number; limitReached: boolean };
  /** The producer's batch and the reply it gets, for retries. */
  batch?: { producerId: string; batchSeq: number; reply: LogAppendResult };
}

export interface LineFilter {
  afterSeq: number;
  since?: Date;
  until?: Date;
  stream?: LogLineStream;
  take: number;
}

interface RunLogRow {
  run_id: string;
  tenant_id: string;
  owner_id: string;
  session_id: string | null;
  last_seq: string | number;
  bytes: string | number;
  limit_reached: boolean;
  closes_at: Date | string | null;
  closed_at: Date | string | null;
}

interface LineRow {
  run_id: string;
  seq: string | number;
  stream: LogLineStream;
  level: LogLineLevel;
  time: Date | string;
  text: string;
  truncated: boolean;
}

const RUN_LOG_COLUMNS = 'run_id, tenant_id, owner_id, session_id, last_seq, bytes, limit_reached, closes_at, closed_at';

function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

function toRunLog(row: RunLogRow): RunLog {
  return {
    runId: row.run_id,
    tenantId: row.tenant_id,
    ownerId: row.owner_id,
    sessionId: row.session_id,
    lastSeq: Number(row.last_seq),
    bytes: Number(row.bytes),
    limitReached: row.limit_reached,
    closesAt: row.closes_at === null ? null : toDate(row.closes_at),
    closedAt: row.closed_at === null ? null : toDate(row.closed_at),
  };
}

/**
 * The only database code of run logs (raw SQL: an append's writes are one statement of unnested
 * arrays, where an entity manager would send one parameter set per row and one statement per table).
 * Every method takes the tenant.
 */
@Injectable()
export class LogsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The run's log, locked until the transaction ends: appends to one run queue here, so their seqs follow commit order. */
  async lockForAppend(tx: EntityManager, tenantId: string, runId: string): Promise<RunLog | null> {
    const rows: RunLogRow[] = await tx.query(`SELECT ${RUN_LOG_COLUMNS} FROM run_logs WHERE run_id = $1 AND tenant_id = $2 FOR UPDATE`, [runId, tenantId]);
    return rows[0] === undefined ? null : toRunLog(rows[0]);
  }

  /**
   * The reply a producer's batch got, if it was stored already. A statement of its own, after the lock:
   * its snapshot then sees a racing retry that committed while this one waited for the lock.
   */
  async findBatchReply(tx: EntityManager, runId: string, producerId: string, batchSeq: number): Promise<LogAppendResult | null> {
    const rows: { reply: LogAppendResult }[] = await tx.query(`SELECT reply FROM log_batches WHERE run_id = $1 AND producer_id = $2 AND batch_seq = $3`, [
      runId,
      producerId,
      batchSeq,
    ]);
    return rows[0]?.reply ?? null;
  }

  /** The run's log for a reader: with `ownerId` (a member), only if it is that principal's run. */
  async findVisible(tenantId: string, ownerId: string | undefined, runId: string): Promise<RunLog | null> {
    const rows: RunLogRow[] = await this.dataSource.query(
      `SELECT ${RUN_LOG_COLUMNS} FROM run_logs WHERE run_id = $1 AND tenant_id = $2 AND ($3::uuid IS NULL OR owner_id = $3::uuid)`,
      [runId, tenantId, ownerId ?? null],
    );
    return rows[0] === undefined ? null : toRunLog(rows[0]);
  }

  /** Creates the run's log row unless it exists (a concurrent opener, or the run's end seen first). */
  async open(opening: RunLogOpening): Promise<void> {
    const now = new Date();
    await this.dataSource.query(
      `INSERT INTO run_logs (run_id, tenant_id, owner_id, session_id, run_ended_at, closes_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (run_id) DO NOTHING`,
      [opening.runId, opening.tenantId, opening.ownerId, opening.sessionId, opening.endedAt, opening.closesAt, now],
    );
  }

  /**
   * The run ended: its log (created now if it has no line yet) closes at `closesAt`. An earlier
   * closing time already set stays (events may come more than once).
   */
  async scheduleClose(opening: RunLogOpening & { endedAt: Date; closesAt: Date }): Promise<void> {
    const now = new Date();
    await this.dataSource.query(
      `INSERT INTO run_logs (run_id, tenant_id, owner_id, session_id, run_ended_at, closes_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
       ON CONFLICT (run_id) DO UPDATE SET
         closes_at = LEAST(COALESCE(run_logs.closes_at, EXCLUDED.closes_at), EXCLUDED.closes_at),
         run_ended_at = COALESCE(run_logs.run_ended_at, EXCLUDED.run_ended_at),
         updated_at = EXCLUDED.updated_at
       WHERE run_logs.tenant_id = EXCLUDED.tenant_id AND run_logs.closed_at IS NULL`,
      [opening.runId, opening.tenantId, opening.ownerId, opening.sessionId, opening.endedAt, opening.closesAt, now],
    );
  }

  /**
   * Stores `lines` as seqs firstSeq, firstSeq + 1, …, moves the log's counters on and records the
   * producer's batch with its reply: one statement (data-modifying CTEs), under lockForAppend's lock.
   */
  async append(tx: EntityManager, append: LogAppend): Promise<void> {
    const { tenantId, runId, firstSeq, lines, counters, batch } = append;
    await tx.query(
      `WITH stored AS (
         INSERT INTO log_lines (run_id, seq, tenant_id, stream, level, time, text, truncated)
         SELECT $1, $3::bigint + u.ord - 1, $2, u.stream, u.level, u.time, u.text, u.truncated
         FROM unnest($4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::boolean[]) WITH ORDINALITY AS u(stream, level, time, text, truncated, ord)
       ), counted AS (
         UPDATE run_logs SET last_seq = $9, bytes = $10, limit_reached = $11, updated_at = now() WHERE run_id = $1 AND tenant_id = $2
       )
       INSERT INTO log_batches (run_id, producer_id, batch_seq, reply, created_at)
       SELECT $1, $12, $13, $14::jsonb, now() WHERE $12::text IS NOT NULL`,
      [
        runId,
        tenantId,
        firstSeq,
        lines.map((line) => line.stream),
        lines.map((line) => line.level),
        lines.map((line) => line.time.toISOString()),
        lines.map((line) => line.text),
        lines.map((line) => line.truncated),
        counters.lastSeq,
        counters.bytes,
        counters.limitReached,
        batch?.producerId ?? null,
        batch?.batchSeq ?? null,
        batch === undefined ? null : JSON.stringify(batch.reply),
      ],
    );
  }

  /**
   * Closes up to `limit` logs whose closing time has come, locked so that replicas close each once
   * (SKIP LOCKED: another replica's round, or an append in progress, is left for later).
   */
  async closeDue(tx: EntityManager, now: Date, limit: number): Promise<RunLog[]> {
    const rows: RunLogRow[] = await tx.query(
      `SELECT ${RUN_LOG_COLUMNS} FROM run_logs WHERE closed_at IS NULL AND closes_at <= $1 ORDER BY closes_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, limit],
    );
    if (rows.length === 0) return [];
    await tx.query(`UPDATE run_logs SET closed_at = $2, updated_at = $2 WHERE run_id = ANY($1::uuid[])`, [rows.map((row) => row.run_id), now]);
    return rows.map((row) => ({ ...toRunLog(row), closedAt: now }));
  }

  /** Lines of the run in seq order, after `afterSeq`, filtered. */
  async listLines(tenantId: string, runId: string, filter: LineFilter): Promise<StoredLine[]> {
    const conditions = ['tenant_id = $1', 'run_id = $2', 'seq > $3'];
    const parameters: unknown[] = [tenantId, runId, filter.afterSeq];
    if (filter.stream !== undefined) {
      parameters.push(filter.stream);
      conditions.push(`stream = $${parameters.length}`);
    }
    if (filter.since !== undefined) {
      parameters.push(filter.since);
      conditions.push(`time >= $${parameters.length}`);
    }
    if (filter.until !== undefined) {
      parameters.push(filter.until);
      conditions.push(`time < $${parameters.length}`);
    }
    parameters.push(filter.take);
    const rows: LineRow[] = await this.dataSource.query(
      `SELECT run_id, seq, stream, level, time, text, truncated FROM log_lines WHERE ${conditions.join(' AND ')} ORDER BY seq LIMIT $${parameters.length}`,
      parameters,
    );
    return rows.map((row) => ({
      runId: row.run_id,
      seq: Number(row.seq),
      stream: row.stream,
      level: row.level,
      time: toDate(row.time),
      text: row.text,
      truncated: row.truncated,
    }));
  }
}
