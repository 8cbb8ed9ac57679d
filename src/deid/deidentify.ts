/**
 * De-identification of one Part 10 instance per DICOM PS3.15 2024b Annex E: the Basic Application Level
 * Confidentiality Profile (Table E.1-1, profile.ts), optionally with the Retain Longitudinal Temporal Information
 * With Modified Dates Option and the Retain Patient Characteristics Option. Works on the byte-faithful element
 * tree of raw.ts, so everything the profile does not touch — pixel data above all — is copied byte for byte.
 */
import { SrError, isSrError, toSrError } from '../core/index.ts';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, lookupTag, parseDicom } from '../dicom/index.ts';
import { DEID_METHOD_CODES, PROFILE_BY_TAG, groupPatternAction } from './profile.ts';
import type { ProfileAction, ProfileRow } from './profile.ts';
import { safetyNetAction } from './safety-net.ts';
import { createPseudonymizer, shiftDate, shiftDateTime } from './pseudonym.ts';
import type { Pseudonymizer } from './pseudonym.ts';
import { TS_EXPLICIT_LE, readRaw, textOf, textValue, writeRaw } from './raw.ts';
import type { RawElement, RawFile } from './raw.ts';

export interface DeidOptions {
  /** The site secret (≥ 16 bytes) keying pseudonyms, UIDs and date shifts. */
  readonly secret: Uint8Array | string;
  /** Retain Longitudinal Temporal Information With Modified Dates Option: dates shifted per patient, not removed. */
  readonly retainModifiedDates?: boolean;
  /** Retain Patient Characteristics Option: sex, age, size, weight, ethnic group, smoking and pregnancy status kept. */
  readonly retainPatientCharacteristics?: boolean;
  /**
   * BurnedInAnnotation = YES instances are refused (DEID_BURNED_IN_ANNOTATION): text in the pixels is not
   * removed by this profile (that is the Clean Pixel Data Option, not implemented). True lets them through,
   * for a reviewer who has checked the pixels.
   */
  readonly allowBurnedInAnnotation?: boolean;
}

export interface DeidResult {
  readonly bytes: Buffer;
  readonly sopInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** The pseudonym written as PatientID and PatientName. */
  readonly patientPseudonym: string;
}

export interface Deidentifier {
  /** De-identifies one Part 10 instance. Throws SrError DICOM_* (unreadable input), DEID_BURNED_IN_ANNOTATION, DEID_FAILED. */
  deidentify(bytes: Uint8Array, source: string): DeidResult;
}

const TAG = {
  PatientName: 0x00100010, PatientID: 0x00100020, StudyInstanceUID: 0x0020000d, SeriesInstanceUID: 0x0020000e,
  SOPInstanceUID: 0x00080018, SOPClassUID: 0x00080016, BurnedInAnnotation: 0x00280301, PatientIdentityRemoved: 0x00120062,
  DeidentificationMethod: 0x00120063, DeidentificationMethodCodeSequence: 0x00120064, LongitudinalTemporalInformationModified: 0x00280303,
  CodeValue: 0x00080100, CodingSchemeDesignator: 0x00080102, CodeMeaning: 0x00080104, VerifyingObserverSequence: 0x0040a073,
  ContentSequence: 0x0040a730,
} as const;

/** Meta elements that name the sending or creating system's private data: dropped (PS3.10 7.1 makes them optional). */
const META_DROP = new Set([0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102]);

/** Dummy values per VR for action D (PS3.15 E.1.1: "a non-zero length value that may be a dummy value"). */
const DUMMY_TEXT: Readonly<Record<string, string>> = {
  PN: 'ANONYMIZED', LO: 'ANONYMIZED', SH: 'ANONYMIZED', LT: 'ANONYMIZED', ST: 'ANONYMIZED', UT: 'ANONYMIZED', UC: 'ANONYMIZED',
  AE: 'ANONYMIZED', CS: 'ANONYMIZED', DA: '19000101', TM: '000000', DT: '19000101000000', AS: '000D', DS: '0', IS: '0', UR: '',
};

/** The action actually applied: options first, then compound codes resolved to keep the attribute present. */
export function effectiveAction(row: Pick<ProfileRow, 'action' | 'dates' | 'chars'>, o: Pick<DeidOptions, 'retainModifiedDates' | 'retainPatientCharacteristics'>): 'D' | 'Z' | 'X' | 'K' | 'C' | 'U' {
  if (o.retainModifiedDates && row.dates) return 'C';
  if (o.retainPatientCharacteristics && row.chars === 'K') return 'K';
  const a: ProfileAction = row.action;
  switch (a) {
    case 'X/Z': return 'Z';
    case 'X/D': case 'Z/D': case 'X/Z/D': return 'D';
    case 'X/Z/U*': return 'U';
    default: return a;
  }
}

interface Ctx {
  readonly o: DeidOptions;
  readonly p: Pseudonymizer;
  readonly pseudonym: string;
  readonly shiftDays: number;
  readonly source: string;
}

function remapUids(el: RawElement, p: Pseudonymizer): void {
  const s = textOf(el);
  if (s === undefined || s === '') return;
  el.value = textValue(s.split('\\').map((u) => p.uid(u.trim())).join('\\'), 'UI');
}

function dummy(el: RawElement, ctx: Ctx): void {
  if (el.tag === TAG.PatientName || el.tag === TAG.PatientID) {
    el.value = textValue(ctx.pseudonym, el.vr);
    return;
  }
  if (el.vr === 'UI') {
    remapUids(el, ctx.p);
    return;
  }
  const text = DUMMY_TEXT[el.vr];
  if (text !== undefined) el.value = textValue(text, el.vr);
  else el.value = new Uint8Array(el.value?.length ?? 0); // binary VRs: zeros of the same length
}

function shiftDates(el: RawElement, ctx: Ctx): void {
  if (el.vr !== 'DA' && el.vr !== 'DT') return; // TM: a whole-day shift leaves times as they are
  const s = textOf(el);
  if (s === undefined || s === '') return;
  const shifted = s.split('\\').map((v) => (el.vr === 'DA' ? shiftDate(v, ctx.shiftDays) : shiftDateTime(v, ctx.shiftDays)));
  el.value = shifted.every((v): v is string => v !== undefined) ? textValue(shifted.join('\\'), el.vr) : new Uint8Array(0);
}

/** Attributes outside the table: the safety net of safety-net.ts (PN and free text removed unless kept). */
function safetyNet(el: RawElement): 'K' | 'X' | 'Z' {
  if (el.items) return 'K'; // sequences are kept and their items cleaned
  const d = lookupTag(el.tag);
  return safetyNetAction(d?.keyword, el.vr === 'UN' ? d?.vr ?? 'UN' : el.vr);
}

function clean(els: readonly RawElement[], ctx: Ctx, depth: number): RawElement[] {
  const out: RawElement[] = [];
  for (const el of els) {
    const group = el.tag >>> 16;
    // Private attributes (odd groups) and their creators, group lengths and the retired command group: removed.
    if (group % 2 === 1 || (el.tag & 0xffff) === 0 || group === 0) continue;
    const row = PROFILE_BY_TAG.get(el.tag);
    const pattern = row ? undefined : groupPatternAction(el.tag);
    const action = row ? effectiveAction(row, ctx.o) : pattern !== undefined ? effectiveAction({ action: pattern }, ctx.o) : safetyNet(el);
    if (action === 'X') continue;
    // ContentSequence is D in the 2024b table; a dummy content tree would be a made-up report and an empty one
    // is an error (Type 1C in the Document Relationship Macro, PS3.3 Table C.17-6): it is removed instead.
    if (action === 'D' && el.tag === TAG.ContentSequence) continue;
    if (el.items) {
      if (action === 'Z' || (action === 'D' && el.tag !== TAG.VerifyingObserverSequence)) el.items = [];
      else el.items = el.items.map((item) => clean(item, ctx, depth + 1));
    } else if (el.encapsulated === undefined) {
      if (action === 'Z') el.value = el.tag === TAG.PatientName || el.tag === TAG.PatientID ? textValue(ctx.pseudonym, el.vr) : new Uint8Array(0);
      else if (action === 'D') dummy(el, ctx);
      else if (action === 'U') {
        if (el.vr === 'UI') remapUids(el, ctx.p);
        else el.value = new Uint8Array(0);
      } else if (action === 'C') shiftDates(el, ctx);
    }
    out.push(el);
  }
  return out;
}

function text(tag: number, vr: string, s: string): RawElement {
  return { tag, vr, value: textValue(s, vr) };
}

function upsert(els: RawElement[], el: RawElement): void {
  const i = els.findIndex((e) => e.tag === el.tag);
  if (i >= 0) els[i] = el;
  else els.push(el);
}

function methodItems(o: DeidOptions): RawElement[][] {
  const codes: { value: string; meaning: string }[] = [DEID_METHOD_CODES.basic];
  if (o.retainModifiedDates) codes.push(DEID_METHOD_CODES.modifiedDates);
  if (o.retainPatientCharacteristics) codes.push(DEID_METHOD_CODES.patientCharacteristics);
  return codes.map((c) => [text(TAG.CodeValue, 'SH', c.value), text(TAG.CodingSchemeDesignator, 'SH', 'DCM'), text(TAG.CodeMeaning, 'LO', c.meaning)]);
}

function methodText(o: DeidOptions): string {
  const parts = ['PS3.15 E.1 Basic Profile'];
  if (o.retainModifiedDates) parts.push('Modified Dates');
  if (o.retainPatientCharacteristics) parts.push('Patient Chars');
  return `SecondReader ${parts.join(' + ')}`.slice(0, 64);
}

function top(file: RawFile, tag: number): string | undefined {
  const el = file.dataset.find((e) => e.tag === tag);
  return el ? textOf(el) : undefined;
}

function uidOr(p: Pseudonymizer, uid: string | undefined, fallback: string): string {
  return uid ? p.uid(uid) : fallback;
}

export function createDeidentifier(o: DeidOptions): Deidentifier {
  const p = createPseudonymizer(o.secret);
  return {
    deidentify(bytes, source) {
      // The project's hardened reader first: unreadable input leaves with its DICOM_* code, as everywhere else.
      parseDicom(bytes, source, {});
      let file: RawFile;
      try {
        file = readRaw(bytes, source);
      } catch (e) {
        throw isSrError(e) ? e : toSrError(e, 'DEID_FAILED', `${source}: could not be read for de-identification`, { source });
      }
      if ((top(file, TAG.BurnedInAnnotation) ?? '').toUpperCase() === 'YES' && !o.allowBurnedInAnnotation) {
        throw new SrError('DEID_BURNED_IN_ANNOTATION', `${source}: BurnedInAnnotation is YES; the pixels may show identifying text`, { details: { source } });
      }
      const sopInstance = top(file, TAG.SOPInstanceUID);
      const sopClass = top(file, TAG.SOPClassUID);
      const study = top(file, TAG.StudyInstanceUID);
      if (!sopInstance || !sopClass) {
        throw new SrError('DICOM_MISSING_ATTRIBUTE', `${source}: SOPClassUID and SOPInstanceUID are needed to de-identify`, { details: { source } });
      }
      // One key per patient: PatientID; without one, the study (its instances still share a pseudonym).
      const patientKey = top(file, TAG.PatientID) || `study:${study ?? sopInstance}`;
      const ctx: Ctx = { o, p, pseudonym: p.patient(patientKey), shiftDays: p.dateShiftDays(patientKey), source };
      try {
        const ds = clean(file.dataset, ctx, 0);
        upsert(ds, text(TAG.PatientName, 'PN', ctx.pseudonym));
        upsert(ds, text(TAG.PatientID, 'LO', ctx.pseudonym));
        upsert(ds, text(TAG.PatientIdentityRemoved, 'CS', 'YES'));
        upsert(ds, text(TAG.DeidentificationMethod, 'LO', methodText(o)));
        upsert(ds, { tag: TAG.DeidentificationMethodCodeSequence, vr: 'SQ', items: methodItems(o) });
        upsert(ds, text(TAG.LongitudinalTemporalInformationModified, 'CS', o.retainModifiedDates ? 'MODIFIED' : 'REMOVED'));
        ds.sort((a, b) => a.tag - b.tag);
        const newSop = p.uid(sopInstance);
        const meta = file.meta.filter((e) => !META_DROP.has(e.tag));
        const ts = file.transferSyntaxUID;
        upsert(meta, { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) });
        upsert(meta, text(0x00020002, 'UI', sopClass));
        upsert(meta, text(0x00020003, 'UI', newSop));
        upsert(meta, text(0x00020010, 'UI', ts === '' ? TS_EXPLICIT_LE : ts));
        upsert(meta, text(0x00020012, 'UI', IMPLEMENTATION_CLASS_UID));
        upsert(meta, text(0x00020013, 'SH', IMPLEMENTATION_VERSION_NAME));
        meta.sort((a, b) => a.tag - b.tag);
        const out = writeRaw({ meta, dataset: ds, transferSyntaxUID: ts });
        return {
          bytes: out, sopInstanceUid: newSop, studyInstanceUid: uidOr(p, study, 'no-study'), seriesInstanceUid: uidOr(p, top(file, TAG.SeriesInstanceUID), 'no-series'),
          patientPseudonym: ctx.pseudonym,
        };
      } catch (e) {
        throw isSrError(e) ? e : toSrError(e, 'DEID_FAILED', `${source}: de-identification failed`, { source });
      }
    },
  };
}
