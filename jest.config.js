/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^nestjs-tasks$': '<rootDir>/lib/index.ts',
    '^nestjs-tasks/(.*)$': '<rootDir>/lib/$1/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // lib/'s one .cts file (always CommonJS), imported as .cjs; packages'
    // own .cjs files are left alone.
    '^\\./package-file\\.cjs$': '<rootDir>/lib/dashboard/package-file.cts',
  },
  moduleFileExtensions: ['ts', 'cts', 'js', 'mjs', 'cjs', 'json', 'node'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
    '^.+\\.cts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  roots: ['<rootDir>/lib', '<rootDir>/test', '<rootDir>/sample'],
  // The apps that test the packed package have their own tests and installs.
  modulePathIgnorePatterns: ['<rootDir>/test/compat/'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/compat/'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  testTimeout: 30000,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
};
