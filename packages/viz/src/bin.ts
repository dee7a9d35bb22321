#!/usr/bin/env node
// The installed `gradgraph` command (publishConfig.bin → dist/bin.js). In the workspace,
// bin/gradgraph.mjs runs the TypeScript sources through tsx instead.
import { main } from './cli';

process.exitCode = await main(process.argv.slice(2));
