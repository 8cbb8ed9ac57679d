import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgressReporter, formatPercent } from './progress.ts';

function sink(isTTY: boolean, columns?: number) {
  const s = { isTTY, columns, text: '', write(c: string) { s.text += c; return true; } };
  return s;
}

test('off a terminal: one plain line per step, with its percentage', () => {
  const out = sink(false);
  const p = createProgressReporter(out);
  p.update('scan', 0.1, 'reading headers', '1/10');
  p.update('scan', 0.5, 'reading headers', '5/10');
  p.update('analyze', 0.5, 'nodules: detect');
  p.update('analyze', 1, 'done');
  p.done();
  assert.equal(out.text, 'scan  10% reading headers\nanalyze  50% nodules: detect\nanalyze 100% done\n');
});

test('on a terminal: the line is rewritten in place, throttled, and ended by done()', () => {
  const out = sink(true, 40);
  let t = 0;
  const p = createProgressReporter(out, { now: () => t, minIntervalMs: 100 });
  p.update('scan', 0.1, 'reading', '1/10');
  t = 10;
  p.update('scan', 0.2, 'reading', '2/10'); // throttled
  t = 200;
  p.update('scan', 0.3, 'reading', '3/10');
  p.update('analyze', 0.05, 'a very long step name that does not fit into forty columns');
  p.done();
  const frames = out.text.split('\r\x1b[2K').slice(1);
  assert.equal(frames.length, 3);
  assert.equal(frames[0], 'scan  10% reading 1/10');
  assert.equal(frames[1], 'scan  30% reading 3/10');
  assert.ok(frames[2]?.endsWith('…\n') && (frames[2]?.length ?? 0) <= 40, frames[2]);
});

test('percentages clamp and floor', () => {
  assert.equal(formatPercent(-1), '  0%');
  assert.equal(formatPercent(0.999), ' 99%');
  assert.equal(formatPercent(Number.NaN), '  0%');
  assert.equal(formatPercent(2), '100%');
});
