export { expectEventually } from './expect-eventually.js';
export { createTestDatabase, freePort, testInfra, uniqueName } from './infra.js';
