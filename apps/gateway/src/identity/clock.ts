/** Time as the services see it; injected so tests can move it (e.g. the last_used_at throttle). */
export interface Clock {
  now(): Date;
}

export const CLOCK = Symbol('runyard.gateway.clock');

export const systemClock: Clock = { now: () => new Date() };
