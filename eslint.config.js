// Type-aware lint, zero warnings (`npm run lint` passes --max-warnings 0).
import nx from '@nx/eslint-plugin';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * Nx module boundaries: libraries form layers (contracts at the bottom), apps depend on libraries,
 * only standalone composes apps. Tests may also use the testing library.
 */
function boundaries(inTests) {
  const testing = inTests ? ['type:testing'] : [];
  return {
    enforceBuildableLibDependency: false,
    allow: [],
    depConstraints: [
      { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:contracts', ...testing] },
      { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:contracts', 'type:util', ...testing] },
      { sourceTag: 'type:data', onlyDependOnLibsWithTags: ['type:contracts', 'type:util', ...testing] },
      { sourceTag: 'type:messaging', onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:data', ...testing] },
      // The worker library's tests run it against the real runs and sessions services (apps).
      { sourceTag: 'type:worker', onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:messaging', ...testing, ...(inTests ? ['type:app'] : [])] },
      { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:testing'] },
      { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
      { sourceTag: 'scope:gateway', onlyDependOnLibsWithTags: ['scope:shared', 'scope:gateway'] },
      { sourceTag: 'scope:sessions', onlyDependOnLibsWithTags: ['scope:shared', 'scope:sessions'] },
      // Runs' tests start the real sessions service, which run creation asks for the session.
      { sourceTag: 'scope:runs', onlyDependOnLibsWithTags: ['scope:shared', 'scope:runs', ...(inTests ? ['scope:sessions'] : [])] },
      // Transcripts' tests start the real runs and sessions services (a log opens on the runs service's word).
      { sourceTag: 'scope:transcripts', onlyDependOnLibsWithTags: ['scope:shared', 'scope:transcripts', ...(inTests ? ['scope:runs', 'scope:sessions'] : [])] },
      // The worker library and app; their tests drive the real runs and sessions services.
      { sourceTag: 'scope:worker', onlyDependOnLibsWithTags: ['scope:shared', 'scope:worker', ...(inTests ? ['scope:runs', 'scope:sessions'] : [])] },
      { sourceTag: 'scope:standalone', onlyDependOnLibsWithTags: ['scope:shared', 'scope:gateway', 'scope:sessions', 'scope:runs', 'scope:transcripts', 'scope:worker'] },
      // The CLI talks HTTP only (contracts for types); its tests run the real binary against a standalone server.
      { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:shared', ...(inTests ? ['scope:standalone'] : [])] },
    ],
  };
}

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/out-tsc/**', '**/node_modules/**', '.runyard/**', '.nx/**', 'coverage/**', '**/*.cjs', '**/*.mjs', 'eslint.config.js'],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@nx': nx, 'import-x': importX },
    settings: { 'import-x/resolver-next': [] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Nest DI needs the class value of constructor parameter types for emitDecoratorMetadata.
      '@typescript-eslint/no-extraneous-class': 'off',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@nx/enforce-module-boundaries': ['error', boundaries(false)],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.integration-spec.ts', '**/*.contract.ts', '**/*.fixture.ts'],
    rules: {
      // jest's expect(...).rejects and mocks trip these without making tests less safe.
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@nx/enforce-module-boundaries': ['error', boundaries(true)],
    },
  },
);
