/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__test__'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '__test__/tsconfig.json' }] },
  globalSetup: '<rootDir>/__test__/setup/global-setup.js',
  globalTeardown: '<rootDir>/__test__/setup/global-teardown.js',
  testTimeout: 60_000,
  // Fault tests stop and restart servers: run them with `npm run test:faults`.
  testPathIgnorePatterns: ['/node_modules/', '\\.faults\\.test\\.ts$'],
};
