import { describeIdempotencyStoreContract } from './idempotency-store.contract.js';
import { MemoryIdempotencyStore } from './memory-idempotency.store.js';

describeIdempotencyStoreContract('MemoryIdempotencyStore', () => new MemoryIdempotencyStore());
