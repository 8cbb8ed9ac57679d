#!/usr/bin/env node
// The `secondreader` command. TypeScript sources run through tsx's loader, so there is no build step
// between a checkout and a working CLI (see docs/adr/0001-runtime-and-tooling.md).
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
