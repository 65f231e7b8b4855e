import { describe, expect, it } from '@jest/globals';
import { defineCommand, DomainError, ErrorCode } from '@runyard/contracts';
import { IsString } from 'class-validator';
import type { CommandHandlerFn } from './bus.js';
import type { MessagingLogger } from './messaging-logger.js';
import { handleWork, MAX_WORK_DELIVERIES, workRetryDelayMs } from './work-handling.js';

class Job {
  @IsString()
  name!: string;
}
const DoJob = defineCommand<{ done: string }>()('test.cmd.job.do.v1', Job);
const quiet: MessagingLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

function run(handler: CommandHandlerFn<typeof DoJob>, deliveryCount: number, plain: unknown = { name: 'x' }) {
  return handleWork(DoJob, handler, plain, { subject: DoJob.subject, headers: {} }, quiet, 1024 * 1024, deliveryCount);
}

describe('handleWork', () => {
  it('replies with the handler’s result, and with a DomainError it threw as the final answer', async () => {
    expect(await run((payload) => Promise.resolve({ done: payload.name }), 1)).toEqual({ kind: 'reply', wire: JSON.stringify({ ok: true, data: { done: 'x' } }) });
    const refused = await run(() => Promise.reject(new DomainError(ErrorCode.CONFLICT, 'no')), 1);
    expect(refused.kind === 'reply' && JSON.parse(refused.wire)).toEqual({ ok: false, error: { code: ErrorCode.CONFLICT, message: 'no' } });
  });

  it('retries an unexpected error or an unavailable dependency, until the last delivery, then answers internal_error', async () => {
    const crash = () => Promise.reject(new Error('connection reset'));
    const unavailable = () => Promise.reject(new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'runs service down'));
    for (const handler of [crash, unavailable]) {
      expect((await run(handler, 1)).kind).toBe('retry');
      expect((await run(handler, MAX_WORK_DELIVERIES - 1)).kind).toBe('retry');
      const last = await run(handler, MAX_WORK_DELIVERIES);
      expect(last.kind === 'reply' && JSON.parse(last.wire)).toMatchObject({ ok: false, error: { code: ErrorCode.INTERNAL_ERROR } });
    }
  });

  it('answers an invalid payload with validation_failed without running the handler', async () => {
    let calls = 0;
    const outcome = await run(() => Promise.resolve({ done: String(++calls) }), 1, { name: 7 });
    expect(outcome.kind === 'reply' && JSON.parse(outcome.wire)).toMatchObject({ ok: false, error: { code: ErrorCode.VALIDATION_FAILED } });
    expect(calls).toBe(0);
  });

  it('backs off from 500 ms, doubling, up to 30 s', () => {
    expect([1, 2, 3, 6, 7, 20].map(workRetryDelayMs)).toEqual([500, 1000, 2000, 16_000, 30_000, 30_000]);
  });
});
