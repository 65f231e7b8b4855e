import { Injectable } from '@nestjs/common';
import type { TraceSpanKind, TraceSpanStatus } from '@runyard/contracts';
import { DataSource, type EntityManager } from 'typeorm';

/** A span to store (new) or to update (known: end, status and attributes). */
export interface NewSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: TraceSpanKind;
  attributes: Record<string, unknown>;
  startTime: Date;
  endTime: Date | null;
  status: TraceSpanStatus;
  statusMessage: string | null;
}

export interface StoredSpan extends NewSpan {
  runId: string;
}

interface SpanRow {
  run_id: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  kind: TraceSpanKind;
  attributes: Record<string, unknown>;
  start_time: Date | string;
  end_time: Date | string | null;
  status: TraceSpanStatus;
  status_message: string | null;
}

/** A run's trace row. */
export interface RunTrace {
  runId: string;
  tenantId: string;
  /** The run's owner, from the runs service; null only on rows created before owners were kept. */
  ownerId: string | null;
  sessionId: string | null;
  spanCount: number;
}

/** What the trace row learns of its run when it is created (from the runs service). */
export interface RunTraceOpening {
  tenantId: string;
  runId: string;
  ownerId: string;
  sessionId: string | null;
}

interface RunTraceRow {
  run_id: string;
  tenant_id: string;
  owner_id: string | null;
  session_id: string | null;
  span_count: number | string;
}

const RUN_TRACE_COLUMNS = 'run_id, tenant_id, owner_id, session_id, span_count';

function toRunTrace(row: RunTraceRow): RunTrace {
  return { runId: row.run_id, tenantId: row.tenant_id, ownerId: row.owner_id, sessionId: row.session_id, spanCount: Number(row.span_count) };
}

/** Merged attributes beyond this (as JSON text) keep the earlier ones: a span re-sent many times stays bounded. */
const MERGED_ATTRIBUTES_MAX_BYTES = 16 * 1024;

function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

/**
 * The only database code of run traces (raw SQL: a batch is one upsert of unnested arrays). Every
 * method takes the tenant.
 */
@Injectable()
export class TracesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The run's trace row, locked until the transaction ends (so the per-run limit holds under
   * concurrent batches); null when the run has none in this tenant (see `open`).
   */
  async lockRunTrace(tx: EntityManager, tenantId: string, runId: string): Promise<RunTrace | null> {
    const rows: RunTraceRow[] = await tx.query(`SELECT ${RUN_TRACE_COLUMNS} FROM run_traces WHERE run_id = $1 AND tenant_id = $2 FOR UPDATE`, [runId, tenantId]);
    return rows[0] === undefined ? null : toRunTrace(rows[0]);
  }

  /** The run's trace row for a reader (in this tenant), if it has one; the caller checks the owner. */
  async findRunTrace(tenantId: string, runId: string): Promise<RunTrace | null> {
    const rows: RunTraceRow[] = await this.dataSource.query(`SELECT ${RUN_TRACE_COLUMNS} FROM run_traces WHERE run_id = $1 AND tenant_id = $2`, [runId, tenantId]);
    return rows[0] === undefined ? null : toRunTrace(rows[0]);
  }

  /**
   * Creates the run's trace row with its owner, unless it exists (a concurrent batch opened it); a
   * row of the same tenant from before owners were kept gets its owner now. A row of another tenant
   * is left alone.
   */
  async open(opening: RunTraceOpening): Promise<void> {
    const now = new Date();
    await this.dataSource.query(
      `INSERT INTO run_traces (run_id, tenant_id, owner_id, session_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
       ON CONFLICT (run_id) DO UPDATE SET owner_id = EXCLUDED.owner_id, session_id = EXCLUDED.session_id, updated_at = EXCLUDED.updated_at
       WHERE run_traces.owner_id IS NULL AND run_traces.tenant_id = EXCLUDED.tenant_id`,
      [opening.runId, opening.tenantId, opening.ownerId, opening.sessionId, now],
    );
  }

  /** Which of `spanIds` the run has already. */
  async findKnownSpanIds(tx: EntityManager, tenantId: string, runId: string, spanIds: string[]): Promise<Set<string>> {
    const rows: { span_id: string }[] = await tx.query(`SELECT span_id FROM trace_spans WHERE tenant_id = $1 AND run_id = $2 AND span_id = ANY($3::text[])`, [
      tenantId,
      runId,
      spanIds,
    ]);
    return new Set(rows.map((row) => row.span_id));
  }

  /**
   * Inserts new spans and updates known ones in one statement. An update keeps what was first
   * recorded (trace, parent, name, kind, start), takes the first end and the first status other than
   * `unset`, and merges attributes (within a bound).
   */
  async upsertSpans(tx: EntityManager, tenantId: string, runId: string, spans: NewSpan[]): Promise<void> {
    if (spans.length === 0) return;
    await tx.query(
      `INSERT INTO trace_spans (run_id, span_id, tenant_id, trace_id, parent_span_id, name, kind, attributes, start_time, end_time, status, status_message, created_at, updated_at)
       SELECT $1, u.span_id, $2, u.trace_id, u.parent_span_id, u.name, u.kind, u.attributes::jsonb, u.start_time, u.end_time, u.status, u.status_message, $3, $3
       FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[])
         AS u(span_id, trace_id, parent_span_id, name, kind, attributes, start_time, end_time, status, status_message)
       ON CONFLICT (run_id, span_id) DO UPDATE SET
         end_time = COALESCE(trace_spans.end_time, CASE WHEN EXCLUDED.end_time IS NULL THEN NULL ELSE GREATEST(EXCLUDED.end_time, trace_spans.start_time) END),
         status = CASE WHEN trace_spans.status = 'unset' THEN EXCLUDED.status ELSE trace_spans.status END,
         status_message = CASE WHEN trace_spans.status = 'unset' THEN EXCLUDED.status_message ELSE trace_spans.status_message END,
         attributes = CASE WHEN octet_length((trace_spans.attributes || EXCLUDED.attributes)::text) <= ${MERGED_ATTRIBUTES_MAX_BYTES}
           THEN trace_spans.attributes || EXCLUDED.attributes ELSE trace_spans.attributes END,
         updated_at = EXCLUDED.updated_at
       WHERE trace_spans.tenant_id = EXCLUDED.tenant_id`,
      [
        runId,
        tenantId,
        new Date(),
        spans.map((span) => span.spanId),
        spans.map((span) => span.traceId),
        spans.map((span) => span.parentSpanId),
        spans.map((span) => span.name),
        spans.map((span) => span.kind),
        spans.map((span) => JSON.stringify(span.attributes)),
        spans.map((span) => span.startTime.toISOString()),
        spans.map((span) => span.endTime?.toISOString() ?? null),
        spans.map((span) => span.status),
        spans.map((span) => span.statusMessage),
      ],
    );
  }

  async addToSpanCount(tx: EntityManager, tenantId: string, runId: string, added: number): Promise<void> {
    await tx.query(`UPDATE run_traces SET span_count = span_count + $3, updated_at = $4 WHERE run_id = $1 AND tenant_id = $2`, [runId, tenantId, added, new Date()]);
  }

  /** Up to `limit` of the run's spans in start order. */
  async listSpans(tenantId: string, runId: string, limit: number): Promise<StoredSpan[]> {
    const rows: SpanRow[] = await this.dataSource.query(
      `SELECT run_id, trace_id, span_id, parent_span_id, name, kind, attributes, start_time, end_time, status, status_message
       FROM trace_spans WHERE tenant_id = $1 AND run_id = $2 ORDER BY start_time, span_id LIMIT $3`,
      [tenantId, runId, limit],
    );
    return rows.map((row) => ({
      runId: row.run_id,
      traceId: row.trace_id,
      spanId: row.span_id,
      parentSpanId: row.parent_span_id,
      name: row.name,
      kind: row.kind,
      attributes: row.attributes,
      startTime: toDate(row.start_time),
      endTime: row.end_time === null ? null : toDate(row.end_time),
      status: row.status,
      statusMessage: row.status_message,
    }));
  }
}
