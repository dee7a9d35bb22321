#!/usr/bin/env node
// The `gradgraph` command in the workspace: it runs the TypeScript sources, registering tsx's
// loader in-process (so --import may name .ts files here). The installed package runs the built
// dist/bin.js instead (publishConfig.bin). Failures are one line, never a stack trace.
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
