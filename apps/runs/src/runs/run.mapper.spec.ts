import { describe, expect, it } from '@jest/globals';
import type { RunEntity } from './run.entity.js';
import { runEventScope, toRunView } from './run.mapper.js';

const run: RunEntity = {
  id: '019a0000-0000-7000-8000-000000000001',
  tenantId: '019a0000-0000-7000-8000-0000000000a1',
  ownerId: '019a0000-0000-7000-8000-0000000000b1',
  createdBy: '019a0000-0000-7000-8000-0000000000b2',
  sessionId: '019a0000-0000-7000-8000-0000000000c1',
  parentRunId: null,
  taskId: null,
  jobId: null,
  source: 'chat',
  status: 'running',
  jumpsQueue: false,
  traceId: null,
  traceParentSpanId: null,
  input: 'hi',
  inputItems: null,
  route: { model: 'm', executor: 'echo' },
  routeSource: 'run',
  executor: 'echo',
  replyTargets: [{ channel: 'slack', address: 'C1' }],
  metadata: {},
  attempt: 2,
  maxAttempts: 3,
  ttlSeconds: null,
  expiresAt: null,
  maxDurationSeconds: 60,
  deadlineAt: new Date(Date.UTC(2025, 0, 1, 0, 1)),
  workerId: 'worker-7',
  leaseToken: 5,
  leaseExpiresAt: new Date(Date.UTC(2025, 0, 1, 0, 0, 30)),
  output: null,
  failureClass: null,
  failureMessage: null,
  cancelReason: null,
  cancelledBy: null,
  version: 4,
  createdAt: new Date(Date.UTC(2025, 0, 1)),
  updatedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, 10)),
  startedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, 1)),
  finishedAt: null,
};

describe('toRunView', () => {
  it('shows the worker but none of the lease internals, with RFC 3339 UTC timestamps', () => {
    const view = toRunView(run);
    expect(view).toMatchObject({ worker_id: 'worker-7', attempt: 2, started_at: '2025-01-01T00:00:01.000Z', finished_at: null, route_source: 'run' });
    for (const hidden of ['lease_token', 'lease_expires_at', 'leaseToken', 'version', 'deadline_at', 'jumps_queue', 'executor']) expect(view).not.toHaveProperty(hidden);
  });

  it('gives a queue position only to a queued run', () => {
    expect(toRunView(run, 3).queue_position).toBeNull();
    expect(toRunView({ ...run, status: 'queued' }, 3).queue_position).toBe(3);
  });

  it('gives events the tenant, owner, session and run, and leaves session out for runs without one', () => {
    expect(runEventScope(run)).toEqual({ tenant_id: run.tenantId, owner_id: run.ownerId, session_id: run.sessionId, run_id: run.id });
    expect(runEventScope({ ...run, sessionId: null })).toEqual({ tenant_id: run.tenantId, owner_id: run.ownerId, run_id: run.id });
  });

  it('gives events and the view the trace of the request that created the run, when there was one', () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(runEventScope({ ...run, traceId })).toMatchObject({ trace_id: traceId });
    expect(runEventScope(run)).not.toHaveProperty('trace_id');
    expect(toRunView({ ...run, traceId }).trace_id).toBe(traceId);
    expect(toRunView(run).trace_id).toBeNull();
  });

  it('gives the view the span of the creating request (the parent of the run’s root spans), and leaves it out of events', () => {
    const traced = { ...run, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', traceParentSpanId: '00f067aa0ba902b7' };
    expect(toRunView(traced)).toMatchObject({ trace_id: traced.traceId, trace_parent_span_id: '00f067aa0ba902b7' });
    expect(toRunView(run).trace_parent_span_id).toBeNull();
    expect(runEventScope(traced)).toEqual({ tenant_id: run.tenantId, owner_id: run.ownerId, session_id: run.sessionId, run_id: run.id, trace_id: traced.traceId });
  });
});
