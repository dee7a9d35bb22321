#!/usr/bin/env node
// The `gradgraph` command. The package ships TypeScript sources (no build step), so this launcher
// registers tsx's loader in-process and runs src/cli.ts. Failures are one line, never a stack trace.
let main;
try {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
} catch (e) {
  process.stderr.write(`gradgraph: error: could not start (${String(e && e.message ? e.message : e).split('\n')[0]}); run "pnpm install" at the repository root\n`);
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
