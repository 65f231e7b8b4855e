import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  ErrorCode,
  GetRunLogAccess,
  ownerFilter,
  RUN_TRACE_REPLY_MAX_BYTES,
  TRACE_SPAN_BATCH_MAX_BYTES,
  type CallerScope,
  type RecordTraceSpansPayload,
  type RunTraceView,
  type TraceSpanInput,
  type TraceSpansRecorded,
} from '@runyard/contracts';
import { BUS, type Bus } from '@runyard/messaging';
import { DataSource } from 'typeorm';
import { buildTraceTree } from './trace-tree.js';
import { TRACES_SETTINGS, type TracesSettings } from './traces-settings.js';
import { TracesRepository, type NewSpan, type RunTrace } from './traces.repository.js';

/** Absent, in another tenant or another member's: the caller cannot tell these apart (as the runs service words it). */
function runNotFound(runId: string): DomainError {
  return new DomainError(ErrorCode.NOT_FOUND, `run ${runId} not found`);
}

/** What the reply holds besides the spans (ids, counters, flags), with room to spare. */
const REPLY_ENVELOPE_BYTES = 1024;

function toNewSpan(span: TraceSpanInput): NewSpan {
  return {
    traceId: span.trace_id,
    spanId: span.span_id,
    parentSpanId: span.parent_span_id ?? null,
    name: span.name,
    kind: span.kind,
    attributes: span.attributes ?? {},
    startTime: new Date(span.start_time),
    endTime: span.end_time === undefined ? null : new Date(span.end_time),
    status: span.status,
    statusMessage: span.status_message ?? null,
  };
}

/**
 * Run traces: spans recorded in batches by workers (an upsert per span, within the per-run limit)
 * and read back as a tree. A run's trace row is created with its first batch, once the runs service
 * confirmed the run (and told whose it is); reads are scoped by tenant and, for members, by owner.
 */
@Injectable()
export class TracesService {
  constructor(
    private readonly traces: TracesRepository,
    private readonly dataSource: DataSource,
    @Inject(BUS) private readonly bus: Bus,
    @Inject(TRACES_SETTINGS) private readonly settings: TracesSettings,
  ) {}

  async record(payload: RecordTraceSpansPayload): Promise<TraceSpansRecorded> {
    const { tenant_id: tenantId, run_id: runId } = payload;
    const bytes = Buffer.byteLength(JSON.stringify(payload.spans), 'utf8');
    if (bytes > TRACE_SPAN_BATCH_MAX_BYTES) {
      throw new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, `a batch carries at most ${TRACE_SPAN_BATCH_MAX_BYTES} bytes of spans; this one has ${bytes}: send smaller batches`);
    }
    const spans = payload.spans.map(toNewSpan);
    const seen = new Set<string>();
    for (const [index, span] of spans.entries()) {
      if (seen.has(span.spanId)) throw invalid(`spans[${index}].span_id`, `span ${span.spanId} appears more than once in the batch: send each span once per batch`);
      seen.add(span.spanId);
      if (span.endTime !== null && span.endTime.getTime() < span.startTime.getTime()) throw invalid(`spans[${index}].end_time`, 'end_time must not be before start_time');
    }
    // At most twice: the first attempt may find no trace row (or one without its owner); the second
    // runs after opening it. The runs service is asked outside the transaction: no row lock is held
    // across a bus request.
    for (let attempt = 0; attempt < 2; attempt++) {
      const outcome = await this.dataSource.transaction(async (tx): Promise<TraceSpansRecorded | null> => {
        const trace = await this.traces.lockRunTrace(tx, tenantId, runId);
        if (trace === null || trace.ownerId === null) return null;
        const known = await this.traces.findKnownSpanIds(tx, tenantId, runId, spans.map((span) => span.spanId));
        const room = Math.max(0, this.settings.maxSpansPerRun - trace.spanCount);
        const fresh = spans.filter((span) => !known.has(span.spanId));
        const taken = fresh.slice(0, room);
        const refused = fresh.length - taken.length;
        if (refused > 0 && refused === spans.length) {
          throw new DomainError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            `the trace of run ${runId} holds its limit of ${this.settings.maxSpansPerRun} spans: it takes no new spans (updates of recorded spans still are)`,
          );
        }
        const takenIds = new Set(taken.map((span) => span.spanId));
        const stored = spans.filter((span) => known.has(span.spanId) || takenIds.has(span.spanId));
        await this.traces.upsertSpans(tx, tenantId, runId, stored);
        if (taken.length > 0) await this.traces.addToSpanCount(tx, tenantId, runId, taken.length);
        return { recorded: stored.length, refused, limit_reached: trace.spanCount + taken.length >= this.settings.maxSpansPerRun };
      });
      if (outcome !== null) return outcome;
      await this.open(tenantId, runId);
    }
    // The runs service knows the run in this tenant, yet a trace row of another tenant holds its id
    // (created before runs were confirmed): the spans go nowhere.
    throw runNotFound(runId);
  }

  /**
   * The run's spans as a tree, within RUN_TRACE_REPLY_MAX_BYTES. Scoped by tenant, and for members by
   * owner: the gateway has checked that the caller may see the run, and this checks it again.
   */
  async tree(scope: CallerScope, runId: string): Promise<RunTraceView> {
    const trace = await this.visibleTrace(scope, runId);
    const spanCount = trace?.spanCount ?? 0;
    const spans = spanCount === 0 ? [] : await this.traces.listSpans(scope.tenant_id, runId, this.settings.maxSpansPerRun);
    const { roots, truncated } = buildTraceTree(spans, RUN_TRACE_REPLY_MAX_BYTES - REPLY_ENVELOPE_BYTES);
    return {
      run_id: runId,
      trace_id: spans[0]?.traceId ?? null,
      span_count: spanCount,
      spans: roots,
      truncated,
      limit_reached: spanCount >= this.settings.maxSpansPerRun,
    };
  }

  /**
   * The run's trace row if it has one. A trace the caller may not see is NOT_FOUND, worded as for an
   * unknown run: members see their own runs' only, and a row whose owner was never learned (created
   * before owners were kept) is no member's. No row yet is null (an empty trace): the gateway has
   * already checked that the run is visible.
   */
  private async visibleTrace(scope: CallerScope, runId: string): Promise<RunTrace | null> {
    const trace = await this.traces.findRunTrace(scope.tenant_id, runId);
    if (trace === null) return null;
    const owner = ownerFilter(scope);
    if (owner !== undefined && trace.ownerId !== owner) throw runNotFound(runId);
    return trace;
  }

  /** Creates the run's trace row after asking the runs service about the run (NOT_FOUND comes from there). */
  private async open(tenantId: string, runId: string): Promise<void> {
    const run = await this.bus.request(GetRunLogAccess, { tenant_id: tenantId, run_id: runId });
    await this.traces.open({ tenantId, runId, ownerId: run.owner_id, sessionId: run.session_id });
  }
}

function invalid(field: string, message: string): DomainError {
  return new DomainError(ErrorCode.VALIDATION_FAILED, message, { errors: [{ field, message }] });
}
