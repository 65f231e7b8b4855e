import type { TranscriptRetentionClass } from '@runyard/contracts';

/** Deployment settings of transcript segments, provided as SEGMENTS_SETTINGS. */
export interface SegmentsSettings {
  /**
   * Days a segment of each retention class is kept from its creation (its `expires_at`); null keeps
   * it until a retention policy says otherwise. TRANSCRIPT_RETENTION_DAYS sets `transcripts`.
   */
  retentionDays: Record<TranscriptRetentionClass, number | null>;
  /**
   * A worker's segment is committed only while the lease the runs service vouched for has at least
   * this long left: room for the clocks of two services that need not be on one machine.
   */
  leaseCommitMarginMs: number;
}

export const SEGMENTS_SETTINGS = Symbol('runyard.transcripts.segments-settings');

export const DEFAULT_SEGMENTS_SETTINGS: SegmentsSettings = {
  retentionDays: { transcripts: 90 },
  leaseCommitMarginMs: 250,
};

const DAY_MS = 24 * 60 * 60 * 1000;

/** When a segment created at `createdAt` expires under a retention of `days` (null: it does not). */
export function segmentExpiry(createdAt: Date, days: number | null): Date | null {
  return days === null ? null : new Date(createdAt.getTime() + days * DAY_MS);
}
