import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // every compile() in the tests re-checks the IR before and after each pass (verify.ts)
    env: { GRADGRAPH_VERIFY: '1' },
  },
});
