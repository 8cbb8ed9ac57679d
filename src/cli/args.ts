/** node:util parseArgs, with its errors turned into USAGE (exit code 2) and typed option readers. */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { SrError } from '../core/index.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Parsed {
  readonly values: OptionValues;
  readonly positionals: string[];
}

export function parse(args: readonly string[], options: OptionSpec, allowPositionals = true): Parsed {
  try {
    const r = parseArgs({ args: [...args], options, allowPositionals, strict: true });
    return { values: r.values as OptionValues, positionals: r.positionals };
  } catch (e) {
    throw new SrError('USAGE', e instanceof Error ? e.message : String(e), { cause: e });
  }
}

export function stringOpt(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

/** An integer option within [min, max]; USAGE otherwise. */
export function intOpt(values: OptionValues, name: string, fallback: number, min: number, max: number): number {
  const raw = stringOpt(values, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new SrError('USAGE', `--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** A positive number option; USAGE otherwise. */
export function numberOpt(values: OptionValues, name: string, fallback: number): number {
  const raw = stringOpt(values, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw new SrError('USAGE', `--${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}
