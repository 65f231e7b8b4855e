import type { FailureClass, InputItem, ReplyTarget, RouteSource, RunRoute, RunSource, RunStatus } from '@runyard/contracts';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Route, input parts and reply targets as stored: plain JSON. */
export type StoredRoute = Pick<RunRoute, 'provider' | 'model' | 'executor'>;
export type StoredInputItem = Pick<InputItem, 'type' | 'text' | 'file_id' | 'url' | 'name' | 'mime_type'>;
export type StoredReplyTarget = Pick<ReplyTarget, 'channel' | 'address' | 'metadata'>;

/** A run (or sub-run) of one tenant. Mirrors migration 1763700000001. */
@Entity({ name: 'runs' })
export class RunEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId!: string;

  /** The session's owner (or the parent run's, or the creator's): members see only what they own. */
  @Column('uuid', { name: 'owner_id' })
  ownerId!: string;

  @Column('uuid', { name: 'created_by' })
  createdBy!: string;

  @Column('uuid', { name: 'session_id', nullable: true })
  sessionId!: string | null;

  @Column('uuid', { name: 'parent_run_id', nullable: true })
  parentRunId!: string | null;

  @Column('uuid', { name: 'task_id', nullable: true })
  taskId!: string | null;

  @Column('uuid', { name: 'job_id', nullable: true })
  jobId!: string | null;

  @Column('text')
  source!: RunSource;

  @Column('text')
  status!: RunStatus;

  /** Created by an `interrupt`: runs ahead of the runs queued before it. */
  @Column('boolean', { name: 'jumps_queue' })
  jumpsQueue!: boolean;

  /** Acceptance order, assigned by the database at insert; orders a session's queue. Never read into entities. */
  @Column({ type: 'bigint', name: 'queue_seq', select: false, insert: false, update: false })
  queueSeq?: string;

  /**
   * The creator's idempotency key, namespaced (`api:…`, `turn:…`; unique per tenant and creator;
   * migration 1763800000002). Written at insert, matched by lookups, never read into entities:
   * nothing after creation needs it.
   */
  @Column({ type: 'text', name: 'idempotency_key', nullable: true, select: false, update: false })
  idempotencyKey?: string | null;

  /** sha256 (hex) of the create body as canonical JSON, set exactly with the key: tells a retry from a reuse. */
  @Column({ type: 'text', name: 'idempotency_fingerprint', nullable: true, select: false, update: false })
  idempotencyFingerprint?: string | null;

  /** The W3C trace id of the request that created the run (migration 1763800000004); workers carry it on. */
  @Column({ type: 'text', name: 'trace_id', nullable: true, update: false })
  traceId!: string | null;

  /**
   * The runs service's span of the request that created the run (16 hex, set only with `traceId`;
   * migration 1763800000004): the parent of the run's root span, linking the execution to the request.
   */
  @Column({ type: 'text', name: 'trace_parent_span_id', nullable: true, update: false })
  traceParentSpanId!: string | null;

  @Column('text', { nullable: true })
  input!: string | null;

  @Column('jsonb', { name: 'input_items', nullable: true })
  inputItems!: StoredInputItem[] | null;

  @Column('jsonb')
  route!: StoredRoute;

  @Column('text', { name: 'route_source' })
  routeSource!: RouteSource;

  /** `route.executor`, as a column so claims can filter on it. */
  @Column('text')
  executor!: string;

  @Column('jsonb', { name: 'reply_targets' })
  replyTargets!: StoredReplyTarget[];

  @Column('jsonb')
  metadata!: Record<string, unknown>;

  /** Claims that count against max_attempts: a released claim, or one that ended in an answered wait, is given back. */
  @Column('integer')
  attempt!: number;

  @Column('integer', { name: 'max_attempts' })
  maxAttempts!: number;

  @Column('integer', { name: 'ttl_seconds', nullable: true })
  ttlSeconds!: number | null;

  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt!: Date | null;

  @Column('integer', { name: 'max_duration_seconds', nullable: true })
  maxDurationSeconds!: number | null;

  /**
   * Set at the first claim to started_at + max_duration, and moved on by the time the run spent
   * suspended whenever a wait is answered (max duration is running time): a run still running past
   * it fails with `timeout`. A cancelling run's is the end of its grace period.
   */
  @Column('timestamptz', { name: 'deadline_at', nullable: true })
  deadlineAt!: Date | null;

  @Column('text', { name: 'worker_id', nullable: true })
  workerId!: string | null;

  /** Fencing token, incremented by every claim; worker writes must present the current one. */
  @Column('integer', { name: 'lease_token' })
  leaseToken!: number;

  @Column('timestamptz', { name: 'lease_expires_at', nullable: true })
  leaseExpiresAt!: Date | null;

  @Column('jsonb', { nullable: true })
  output!: Record<string, unknown> | null;

  @Column('text', { name: 'failure_class', nullable: true })
  failureClass!: FailureClass | null;

  @Column('text', { name: 'failure_message', nullable: true })
  failureMessage!: string | null;

  @Column('text', { name: 'cancel_reason', nullable: true })
  cancelReason!: string | null;

  @Column('uuid', { name: 'cancelled_by', nullable: true })
  cancelledBy!: string | null;

  /** Optimistic concurrency: every update names the version it read and bumps it. */
  @Column('integer')
  version!: number;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;

  @Column('timestamptz', { name: 'started_at', nullable: true })
  startedAt!: Date | null;

  @Column('timestamptz', { name: 'finished_at', nullable: true })
  finishedAt!: Date | null;
}
