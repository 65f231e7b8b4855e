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
