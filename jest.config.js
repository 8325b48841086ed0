/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // Only *.test.ts files are tests: helpers under __tests__/support are not run.
  testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
  // Type-checking is `npm run typecheck`'s job; tests only transpile.
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  setupFiles: ['<rootDir>/__tests__/support/env.js'],
  testTimeout: 60000,
  maxWorkers: 2,
};
