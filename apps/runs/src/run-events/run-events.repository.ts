import { Injectable } from '@nestjs/common';
import type { EventEnvelope } from '@runyard/contracts';
import { OutboxEventEntity } from '@runyard/messaging';
import { DataSource } from 'typeorm';

export interface StoredRunEvent {
  /** Outbox insert order (int8 as a string). */
  position: string;
  envelope: EventEnvelope<object>;
}

/**
 * A run's event history, read from this service's own outbox (read only: the relay owns its rows and
 * prunes them once published and past its retention). Events are in the order they were committed.
 */
@Injectable()
export class RunEventsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Oldest first; `afterPosition` continues after the last event of the previous page. */
  async listForRun(tenantId: string, runId: string, page: { afterPosition?: string; take: number }): Promise<StoredRunEvent[]> {
    // `envelope ->> 'run_id'` and `position` are what outbox_events_run_id_idx is built on.
    const query = this.dataSource.manager
      .createQueryBuilder(OutboxEventEntity, 'e')
      .where('e.tenant_id = :tenantId', { tenantId })
      .andWhere(`(e.envelope ->> 'run_id') = :runId`, { runId });
    if (page.afterPosition !== undefined) query.andWhere('e.position > :afterPosition', { afterPosition: page.afterPosition });
    const rows = await query.orderBy('e.position', 'ASC').limit(page.take).getMany();
    return rows.map((row) => ({ position: String(row.position), envelope: row.envelope }));
  }
}
