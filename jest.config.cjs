// Jest runs in ESM mode (NestJS 12 is ESM-only; see STACK-NOTES). Two tiers:
//  - unit:        *.spec.ts             — no network; standalone mode (PGlite + in-process bus) allowed.
//  - integration: *.integration-spec.ts — real PostgreSQL, Redis and NATS (required, never skipped).
const workspacePackages = {
  '^@runyard/(contracts|messaging|persistence|config|runtime|testing|worker)$': '<rootDir>/libs/$1/src/index.ts',
  '^@runyard/(gateway|sessions|standalone|runs|transcripts)$': '<rootDir>/apps/$1/src/index.ts',
  // Test fixtures a service offers other projects' tests (source only: never built).
  '^@runyard/runs/testing$': '<rootDir>/apps/runs/src/runs.fixture.ts',
  '^@runyard/standalone/testing$': '<rootDir>/apps/standalone/src/e2e/boot-distributed.ts',
};

const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          target: 'es2022',
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
          keepClassNames: true,
        },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  moduleNameMapper: {
    ...workspacePackages,
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  setupFiles: ['<rootDir>/libs/testing/src/setup-reflect.cjs'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/out-tsc/'],
  modulePathIgnorePatterns: ['<rootDir>/apps/[^/]+/dist/', '<rootDir>/libs/[^/]+/dist/'],
};

module.exports = {
  // Global, not per project: booting embedded Postgres or a whole stack takes seconds on 2 cores.
  testTimeout: 60_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/*/src/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs}/*/src/**/*.integration-spec.ts', '<rootDir>/test/**/*.integration-spec.ts'],
      globalSetup: '<rootDir>/libs/testing/src/infra-global-setup.cjs',
    },
  ],
};
