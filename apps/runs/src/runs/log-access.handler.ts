import { Injectable } from '@nestjs/common';
import { GetRunLogAccess, type PayloadOf, type RunLogAccess } from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { runNotFound } from './run-errors.js';
import { RunsRepository } from './runs.repository.js';

/**
 * Bus entry point for the transcripts service (a trusted service, no caller scope): what it needs to
 * open a run's log — that the run exists in the tenant, whose it is, and whether it has ended.
 */
@Injectable()
export class LogAccessHandler {
  constructor(private readonly runs: RunsRepository) {}

  @CommandHandler(GetRunLogAccess)
  async get(payload: PayloadOf<typeof GetRunLogAccess>): Promise<RunLogAccess> {
    // No owner filter: the caller is a service, and the answer carries the owner for its own scoping.
    const run = await this.runs.findVisible(payload.tenant_id, undefined, payload.run_id);
    if (run === null) throw runNotFound(payload.run_id);
    return {
      run_id: run.id,
      tenant_id: run.tenantId,
      owner_id: run.ownerId,
      session_id: run.sessionId,
      status: run.status,
      finished_at: run.finishedAt === null ? null : run.finishedAt.toISOString(),
    };
  }
}
