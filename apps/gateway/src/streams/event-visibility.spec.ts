import { describe, expect, it } from '@jest/globals';
import { CallerScope, RunStatusChanged, SessionCreated, type EventEnvelope } from '@runyard/contracts';
import { v7 as uuidv7 } from 'uuid';
import { isSelected, isVisible } from './event-visibility.js';
import { endsRun } from './run-events.js';

const tenantA = uuidv7();
const tenantB = uuidv7();
const alice = uuidv7();
const bob = uuidv7();

function scope(tenant: string, principal: string, role: 'admin' | 'member'): CallerScope {
  return Object.assign(new CallerScope(), { tenant_id: tenant, principal_id: principal, role });
}

function envelope(fields: Partial<EventEnvelope> = {}): EventEnvelope {
  return { id: uuidv7(), subject: SessionCreated.subject, tenant_id: tenantA, occurred_at: new Date().toISOString(), data: {}, ...fields };
}

describe('event visibility', () => {
  const admin = scope(tenantA, uuidv7(), 'admin');
  const member = scope(tenantA, alice, 'member');

  it('never crosses tenants, whatever the role', () => {
    const foreign = envelope({ tenant_id: tenantB, owner_id: alice });
    expect(isVisible(foreign, admin)).toBe(false);
    expect(isVisible(foreign, member)).toBe(false);
  });

  it('shows an admin every event of its tenant, with or without an owner', () => {
    expect(isVisible(envelope({ owner_id: alice }), admin)).toBe(true);
    expect(isVisible(envelope({ owner_id: bob }), admin)).toBe(true);
    expect(isVisible(envelope(), admin)).toBe(true);
  });

  it('shows a member only the events it owns; ownerless events are for admins', () => {
    expect(isVisible(envelope({ owner_id: alice }), member)).toBe(true);
    expect(isVisible(envelope({ owner_id: bob }), member)).toBe(false);
    expect(isVisible(envelope(), member)).toBe(false);
    // Same principal id in another tenant's scope sees nothing of this tenant.
    expect(isVisible(envelope({ owner_id: alice }), scope(tenantB, alice, 'member'))).toBe(false);
  });

  it('applies the session and run filters on top of the scope', () => {
    const session = uuidv7();
    const run = uuidv7();
    const ofRun = envelope({ owner_id: alice, session_id: session, run_id: run });
    const ofSession = envelope({ owner_id: alice, session_id: session });
    const other = envelope({ owner_id: alice, session_id: uuidv7(), run_id: uuidv7() });

    expect([ofRun, ofSession, other].filter((e) => isSelected(e, { scope: member, sessionId: session }))).toEqual([ofRun, ofSession]);
    expect([ofRun, ofSession, other].filter((e) => isSelected(e, { scope: member, runId: run }))).toEqual([ofRun]);
    expect([ofRun, ofSession, other].filter((e) => isSelected(e, { scope: member, sessionId: session, runId: run }))).toEqual([ofRun]);
    expect([ofRun, ofSession, other].filter((e) => isSelected(e, { scope: member }))).toEqual([ofRun, ofSession, other]);
    // A filter never widens the scope.
    expect(isSelected(envelope({ owner_id: bob, session_id: session }), { scope: member, sessionId: session })).toBe(false);
  });
});

describe('endsRun', () => {
  const run = uuidv7();
  const change = (to: string, runId = run) => envelope({ subject: RunStatusChanged.subject, run_id: runId, data: { from: 'pending', to } });

  it('is the run’s change to a terminal status', () => {
    for (const to of ['completed', 'failed', 'cancelled', 'expired']) expect(endsRun(change(to), run)).toBe(true);
  });

  it('is not a non-terminal change, another run’s change, or another event', () => {
    for (const to of ['queued', 'pending', 'running', 'waiting_for_approval', 'waiting_for_input', 'cancelling']) expect(endsRun(change(to), run)).toBe(false);
    expect(endsRun(change('completed', uuidv7()), run)).toBe(false);
    expect(endsRun(envelope({ run_id: run, data: { to: 'completed' } }), run)).toBe(false);
    expect(endsRun(envelope({ subject: RunStatusChanged.subject, run_id: run, data: null }), run)).toBe(false);
  });
});
