import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites start their own PostgreSQL and sshd; keep file parallelism modest on 2 cores.
    maxWorkers: 2,
    minWorkers: 1,
    // The JSON report lets .ci/run print one plain closing line (N passed, N failed, N skipped).
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
  },
});
