/**
 * NATS subject-filter matching (`*` one token, `>` one or more trailing tokens), for the in-process
 * bus to select events exactly as a JetStream `filter_subject` would.
 */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/** Events live on `<service>.evt.…` subjects only; anything else is a programming error. */
export function assertEventSubject(subject: string): void {
  if (!/^[A-Za-z0-9_-]+\.evt\.[A-Za-z0-9_.-]+$/.test(subject) || subject.includes('..') || subject.endsWith('.')) {
    throw new Error(`Not an event subject: "${subject}" (expected <service>.evt.<entity>.<event>.v<N>)`);
  }
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * An event's subject as stored in the event log: the tenant goes in as the token after `evt`
 * (`runs.evt.<tenant>.run.created.v1`), so a reader can ask the log for one tenant's events only
 * instead of reading every tenant's and filtering. Envelopes keep the plain subject.
 */
export function storedEventSubject(subject: string, tenantId: string): string {
  if (!TOKEN.test(tenantId)) throw new Error(`Not a tenant id usable in a subject: "${tenantId}"`);
  const [service, evt, ...rest] = subject.split('.');
  return [service, evt, tenantId, ...rest].join('.');
}

/**
 * The filter on stored subjects for a filter on plain event subjects (`runs.evt.run.>`,
 * `*.evt.>`), for every tenant or for one.
 */
export function storedEventFilter(filter: string, tenantId?: string): string {
  if (tenantId !== undefined && !TOKEN.test(tenantId)) throw new Error(`Not a tenant id usable in a subject: "${tenantId}"`);
  const [service, evt, ...rest] = filter.split('.');
  if (evt !== 'evt' || rest.length === 0) throw new Error(`Not an event filter: "${filter}" (expected <service>.evt.<…>)`);
  // Every tenant: `x.evt.>` already spans the tenant token; anything narrower gets a `*` for it.
  if (tenantId === undefined && rest.length === 1 && rest[0] === '>') return filter;
  return [service, evt, tenantId ?? '*', ...rest].join('.');
}
