export { expectEventually } from './expect-eventually.js';
export { createTestDatabase, deleteNatsNamespace, freePort, testInfra, uniqueName } from './infra.js';
export { startPrivateNats, type PrivateNats } from './private-nats.js';
export { recordEvents, type ConsumingBus } from './record-events.js';
