#!/usr/bin/env node
// Runs every *.test.ts under src/, eval/, bench/ and test/ with Node's test runner (Node 20's --test takes no
// globs). Extra arguments go to `node --test` (e.g. --test-name-pattern=...); a path argument narrows the set.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const narrow = process.argv.slice(2).filter((a) => !a.startsWith('-'));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const files = ['src', 'eval', 'bench', 'test']
  .filter((d) => existsSync(join(root, d)))
  .flatMap((d) => walk(join(root, d), []))
  .filter((f) => narrow.length === 0 || narrow.some((n) => f.startsWith(n)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...flags, ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
