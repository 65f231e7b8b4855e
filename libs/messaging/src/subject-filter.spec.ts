import { describe, expect, it } from '@jest/globals';
import { storedEventFilter, storedEventSubject, subjectMatches } from './subject-filter.js';

const TENANT = '0190a5f1-0000-7000-8000-000000000001';

describe('stored event subjects', () => {
  it('puts the tenant after `evt`, and maps plain filters to match it for every tenant or one', () => {
    const stored = storedEventSubject('runs.evt.run.created.v1', TENANT);
    expect(stored).toBe(`runs.evt.${TENANT}.run.created.v1`);
    for (const filter of ['runs.evt.run.created.v1', 'runs.evt.run.>', 'runs.evt.>', '*.evt.>', '*.evt.run.*.v1']) {
      expect(subjectMatches(storedEventFilter(filter), stored)).toBe(true);
      expect(subjectMatches(storedEventFilter(filter, TENANT), stored)).toBe(true);
      expect(subjectMatches(storedEventFilter(filter, '0190a5f1-0000-7000-8000-000000000002'), stored)).toBe(false);
    }
    for (const filter of ['runs.evt.run.updated.v1', 'sessions.evt.>', 'runs.evt.session.>']) expect(subjectMatches(storedEventFilter(filter), stored)).toBe(false);
  });

  it('refuses a tenant id that is not one subject token, and a filter that is not on events', () => {
    expect(() => storedEventSubject('runs.evt.run.created.v1', 'a.b')).toThrow(/tenant id/);
    expect(() => storedEventFilter('*.evt.>', '*')).toThrow(/tenant id/);
    expect(() => storedEventFilter('runs.cmd.run.create.v1')).toThrow(/event filter/);
  });
});
