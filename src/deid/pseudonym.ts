/**
 * Keyed, deterministic replacements: one site secret gives the same pseudonym for a patient, the same new UID for
 * an old UID and the same date shift for a patient in every file, every run and every process — so studies of one
 * patient stay linked and references between instances stay intact, while nobody without the secret can link a
 * pseudonym back to the patient (HMAC-SHA256, RFC 2104; a plain hash of a PatientID could be reversed by trying
 * the few million plausible IDs of a hospital).
 */
import { createHmac } from 'node:crypto';
import { SrError } from '../core/index.ts';

export interface Pseudonymizer {
  /** PatientID (or the fallback key) → pseudonym used for both PatientID and PatientName. */
  patient(key: string): string;
  /** Any UID → a 2.25 UID (PS3.5 B.2: a 128-bit integer below the 2.25 root), the same for the same input. */
  uid(uid: string): string;
  /** Days (1..3650) to move the dates of this patient back (Modified Dates option). */
  dateShiftDays(key: string): number;
}

/** Minimum secret length: 16 bytes, the HMAC key size below which brute force of the key gets plausible. */
export const MIN_SECRET_BYTES = 16;

export function createPseudonymizer(secret: Uint8Array | string): Pseudonymizer {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (key.length < MIN_SECRET_BYTES) {
    throw new SrError('CONFIG_INVALID', `the de-identification secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  const mac = (domain: string, value: string): Buffer => createHmac('sha256', key).update(`${domain}\0${value}`, 'utf8').digest();
  const uids = new Map<string, string>();
  return {
    patient: (k) => `SR${mac('patient', k).subarray(0, 8).toString('hex').toUpperCase()}`,
    uid: (u) => {
      let v = uids.get(u);
      if (v === undefined) {
        v = `2.25.${BigInt(`0x${mac('uid', u).subarray(0, 16).toString('hex')}`).toString(10)}`;
        if (uids.size < 100_000) uids.set(u, v);
      }
      return v;
    },
    dateShiftDays: (k) => (mac('date', k).readUInt32BE(0) % 3650) + 1,
  };
}

/** Shifts a DA value (YYYYMMDD) back by `days`; other shapes (partial dates, ranges) come back undefined. */
export function shiftDate(da: string, days: number): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim());
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (!Number.isFinite(t)) return undefined;
  const d = new Date(t - days * 86_400_000);
  if (Number.isNaN(d.getTime())) return undefined;
  return `${String(d.getUTCFullYear()).padStart(4, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** Shifts the date part of a DT value (YYYYMMDDHHMMSS.FFFFFF&ZZXX), keeping the rest; undefined when not shiftable. */
export function shiftDateTime(dt: string, days: number): string | undefined {
  const s = dt.trim();
  if (s.length < 8) return undefined;
  const d = shiftDate(s.slice(0, 8), days);
  return d === undefined ? undefined : d + s.slice(8);
}
