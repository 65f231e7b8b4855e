import { afterAll, beforeAll } from '@jest/globals';
import { createTestDatabase } from '@runyard/testing';
import { describeServiceDataSourceContract } from './service-data-source.contract.js';

let database: { url: string; drop(): Promise<void> };

beforeAll(async () => {
  database = await createTestDatabase('persistence');
});

afterAll(async () => {
  await database?.drop();
});

describeServiceDataSourceContract('PostgreSQL', () => ({ kind: 'postgres', url: database.url, poolMax: 5 }));
