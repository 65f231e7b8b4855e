import { describe, expect, it } from '@jest/globals';
import { resolveRoute } from './route.js';

describe('resolveRoute', () => {
  it('takes the whole route from the first level that gives one, and records which', () => {
    expect(resolveRoute({ model: 'm1' }, { provider: 'p2', model: 'm2', executor: 'e2' }, 'echo')).toEqual({
      route: { model: 'm1', executor: 'echo' },
      routeSource: 'run',
    });
    expect(resolveRoute(undefined, { provider: 'p2', executor: 'e2' }, 'echo')).toEqual({ route: { provider: 'p2', executor: 'e2' }, routeSource: 'session' });
    expect(resolveRoute({}, {}, 'echo')).toEqual({ route: { executor: 'echo' }, routeSource: 'default' });
    expect(resolveRoute(undefined, null, 'agent')).toEqual({ route: { executor: 'agent' }, routeSource: 'default' });
  });
});
