/**
 * Input checks shared by the clinical calculators. Every failure is an SrError CLINICAL_INVALID_INPUT whose
 * `details.field` names the offending input, so a caller (or a report) can point at it.
 */
import { SrError } from '../core/errors.ts';

export function invalid(field: string, message: string, value?: unknown): SrError {
  return new SrError('CLINICAL_INVALID_INPUT', `${field}: ${message}`, { details: { field, value } });
}

/** A finite number ≥ 0 (or > 0 when `positive`). */
export function requireNonNegative(field: string, value: unknown, positive = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(field, 'must be a finite number', value);
  if (positive ? value <= 0 : value < 0) throw invalid(field, positive ? 'must be > 0' : 'must be ≥ 0', value);
  return value;
}

export function requirePositive(field: string, value: unknown): number {
  return requireNonNegative(field, value, true);
}

export function requireInteger(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(field, `must be an integer ≥ ${min}`, value);
  }
  return value;
}

export function requireOneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(field, `must be one of ${allowed.join(', ')}`, value);
  }
  return value as T;
}

export function optionalBoolean(field: string, value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(field, 'must be a boolean when given', value);
  return value;
}

/**
 * Rounds half away from zero to `decimals` places. The small relative nudge keeps decimal inputs such as
 * 5.95 or 2.675 from rounding down because of their binary representation (a standard's "rounded to one
 * decimal" is about the printed decimal number the radiologist measured).
 */
export function roundTo(value: number, decimals: number): number {
  const f = 10 ** decimals;
  const scaled = value * f;
  return Math.sign(scaled) * Math.round(Math.abs(scaled) * (1 + 1e-12)) / f;
}
