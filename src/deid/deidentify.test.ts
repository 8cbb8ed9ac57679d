/**
 * De-identification over the conformance corpus (../shared/data/dicom-conformance, read in place) and the CT
 * series of chest-ct-lidc, ct-head-gantry-tilt and radiomics-ibsi: for every file the project's reader accepts,
 * the output parses; no attribute whose action (PS3.15 2024b Table E.1-1, as applied) is X survives at any depth,
 * none with Z/D/U/C keeps its original value at any depth (a TM value under the Modified Dates option excepted:
 * a whole-day shift leaves it as it is), no input PN value appears anywhere in the output, private attributes
 * are gone, UIDs are remapped consistently across files and pixel data is byte-identical; every other
 * conformance file gives a coded error. Plus dciodvfy on a few outputs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSrError } from '../core/errors.ts';
import { parseDicom, frameSourceOf } from '../dicom/parse.ts';
import type { DicomDataset } from '../dicom/types.ts';
import { createDeidentifier, effectiveAction } from './deidentify.ts';
import type { DeidOptions } from './deidentify.ts';
import { lookupTag } from '../dicom/index.ts';
import { PROFILE, PROFILE_BY_TAG, groupPatternAction } from './profile.ts';
import { readRaw, textOf } from './raw.ts';
import type { RawElement } from './raw.ts';

const DATA = new URL('../../../shared/data/', import.meta.url).pathname;
const CORPUS = join(DATA, 'dicom-conformance/');
const EXTRA = ['chest-ct-lidc', 'ct-head-gantry-tilt', 'radiomics-ibsi'].map((d) => join(DATA, d)).filter((d) => existsSync(d));
const skip = !existsSync(CORPUS);
const SECRET = 'test-site-secret-0123456789abcdef';

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else if (/\.(dcm|DCM)$|^\d+\.dcm$|^[^.]+$/.test(name)) out.push(p);
  }
  return out;
}

function privateTags(els: readonly RawElement[], out: number[] = []): number[] {
  for (const el of els) {
    if ((el.tag >>> 16) % 2 === 1) out.push(el.tag);
    for (const item of el.items ?? []) privateTags(item, out);
  }
  return out;
}

/** Aligns U attributes of input and output by keyword path; calls `pair` for each. */
function alignUids(a: DicomDataset, b: DicomDataset, keywords: ReadonlySet<string>, pair: (k: string, from: string, to: string) => void): void {
  for (const [k, va] of Object.entries(a)) {
    const vb = b[k];
    if (vb === undefined) continue;
    if (keywords.has(k) && typeof va === 'string' && typeof vb === 'string') {
      const xs = va.split('\\');
      const ys = vb.split('\\');
      xs.forEach((x, i) => { if (x !== '') pair(k, x, ys[i] ?? ''); });
    } else if (Array.isArray(va) && Array.isArray(vb)) {
      va.forEach((item, i) => {
        const other: unknown = vb[i];
        if (typeof item === 'object' && item !== null && typeof other === 'object' && other !== null && !ArrayBuffer.isView(item)) {
          alignUids(item as DicomDataset, other as DicomDataset, keywords, pair);
        } else if (keywords.has(k) && typeof item === 'string' && typeof other === 'string') pair(k, item, other);
      });
    }
  }
}

function pixelBytes(bytes: Uint8Array, source: string): Uint8Array | undefined {
  const f = parseDicom(bytes, source);
  const src = frameSourceOf(f);
  const px = src?.pixel;
  if (!src || !px || px.length < 0) return undefined;
  return src.bytes.subarray(px.offset, px.offset + px.length);
}

type Opts = Pick<DeidOptions, 'retainModifiedDates' | 'retainPatientCharacteristics'>;

function* walk(els: readonly RawElement[]): Generator<RawElement> {
  for (const el of els) {
    yield el;
    for (const item of el.items ?? []) yield* walk(item);
  }
}

const vrOf = (el: RawElement): string => (el.vr === 'UN' ? lookupTag(el.tag)?.vr ?? 'UN' : el.vr);
const TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);
const FREE_TEXT_VRS = new Set(['PN', 'LO', 'SH', 'LT', 'ST', 'UT', 'UC']);
/** The dummies action D writes (deidentify.ts): an input that already held one is not "its original value". */
const DUMMIES = new Set(['ANONYMIZED', '19000101', '000000', '19000101000000', '000D', '0']);

/**
 * Checks one input/output pair on the raw element trees (every element, at every depth, known to the
 * dictionary or not). Returns the problems found.
 */
function attributeProblems(input: readonly RawElement[], output: readonly RawElement[], o: Opts): string[] {
  const problems: string[] = [];
  const outByTag = new Map<number, RawElement[]>();
  const outFreeText = new Set<string>();
  for (const el of walk(output)) {
    outByTag.set(el.tag, [...(outByTag.get(el.tag) ?? []), el]);
    const v = FREE_TEXT_VRS.has(vrOf(el)) ? textOf(el) : undefined;
    if (v) outFreeText.add(v);
  }
  for (const el of walk(input)) {
    if ((el.tag >>> 16) % 2 === 1 || (el.tag & 0xffff) === 0 || el.tag >>> 16 === 0) continue;
    const row = PROFILE_BY_TAG.get(el.tag);
    const pattern = row ? undefined : groupPatternAction(el.tag);
    const action = row ? effectiveAction(row, o) : pattern;
    const vr = vrOf(el);
    const value = TEXT_VRS.has(vr) ? textOf(el) : undefined;
    const name = lookupTag(el.tag)?.keyword ?? el.tag.toString(16);
    const outs = outByTag.get(el.tag) ?? [];
    if (action === 'X' && outs.length > 0) problems.push(`${name}: X but present in the output`);
    if (el.items && (action === 'Z' || (action === 'D' && name !== 'VerifyingObserverSequence')) && outs.some((e) => (e.items?.length ?? 0) > 0)) {
      problems.push(`${name}: ${action} but the sequence kept items`);
    }
    if (value && (action === 'Z' || action === 'D' || action === 'U' || action === 'C')) {
      const exempt = (action === 'D' && DUMMIES.has(value)) || (action === 'C' && vr === 'TM');
      if (!exempt && outs.some((e) => textOf(e) === value)) problems.push(`${name}: ${action} but kept its original value ${JSON.stringify(value)}`);
    }
    if (vr === 'PN' && value && value !== 'ANONYMIZED' && outFreeText.has(value)) problems.push(`${name}: person name ${JSON.stringify(value)} found in the output`);
  }
  return problems;
}
const U_KEYWORDS = new Set(PROFILE.filter((r) => effectiveAction(r, {}) === 'U').map((r) => r.keyword));
const files = skip ? [] : listFiles(CORPUS);
/** The CT series of the other data sets: every file the reader accepts as an instance (others are NIfTI, CSV…). */
const extraFiles = EXTRA.flatMap((d) => listFiles(d)).filter((f) => {
  try {
    return typeof parseDicom(readFileSync(f), f).dataset['SOPInstanceUID'] === 'string';
  } catch {
    return false;
  }
});

for (const [label, opts, methodCodes] of [
  ['basic profile', {}, ['113100']],
  ['with both options', { retainModifiedDates: true, retainPatientCharacteristics: true }, ['113100', '113107', '113108']],
] as const) describe(`de-identification over the conformance corpus (${label})`, { skip }, () => {
  const d = createDeidentifier({ secret: SECRET, ...opts });
  const uidMap = new Map<string, string>();
  const reverse = new Map<string, string>();
  let deidentified = 0;
  let refused = 0;
  const outputs = new Map<string, Buffer>();

  it('de-identifies every readable file; unreadable ones give a coded error', () => {
    assert.ok(files.length > 150, `corpus files: ${files.length}`);
    assert.ok(extraFiles.length >= (EXTRA.length === 3 ? 70 : 0), `CT files of the other data sets: ${extraFiles.length}`);
    for (const f of [...files, ...extraFiles]) {
      const input = readFileSync(f);
      let readable = true;
      try {
        const h = parseDicom(input, f);
        if (typeof h.dataset['SOPInstanceUID'] !== 'string' || typeof h.dataset['SOPClassUID'] !== 'string') readable = false;
      } catch {
        readable = false;
      }
      let out: Buffer;
      try {
        out = d.deidentify(input, f).bytes;
      } catch (e) {
        assert.ok(isSrError(e), `${f}: not a coded error: ${String(e)}`);
        // The reader defers pixel-data checks to decoding; the de-identifier copies every byte, so a truncated
        // pixel data element is refused here.
        if (readable) assert.ok(['DEID_BURNED_IN_ANNOTATION', 'DICOM_TRUNCATED'].includes(e.code), `${f}: readable input refused with ${e.code}: ${e.message}`);
        refused++;
        continue;
      }
      deidentified++;
      outputs.set(f.startsWith(CORPUS) ? f.slice(CORPUS.length) : f.slice(DATA.length), out);
      const inDs = parseDicom(input, f).dataset;
      const outDs = parseDicom(out, `${f} (de-identified)`).dataset;

      const outRaw = readRaw(out, f).dataset;
      assert.deepEqual(attributeProblems(readRaw(input, f).dataset, outRaw, opts), [], f);
      assert.deepEqual(privateTags(outRaw), [], `${f}: private attributes left`);
      alignUids(inDs, outDs, U_KEYWORDS, (k, from, to) => {
        assert.notEqual(to, from, `${f}: ${k} ${from} not remapped`);
        assert.match(to, /^2\.25\.\d+$/, `${f}: ${k}`);
        const prev = uidMap.get(from);
        assert.ok(prev === undefined || prev === to, `${f}: ${k} ${from} → ${to}, elsewhere → ${prev}`);
        const back = reverse.get(to);
        assert.ok(back === undefined || back === from, `${f}: two UIDs map to ${to}`);
        uidMap.set(from, to);
        reverse.set(to, from);
      });
      assert.equal(outDs['PatientIdentityRemoved'], 'YES');
      const codes = (outDs['DeidentificationMethodCodeSequence'] as DicomDataset[]).map((c) => c['CodeValue']);
      assert.deepEqual(codes, methodCodes);
      const pin = pixelBytes(input, f);
      const pout = pixelBytes(out, f);
      assert.equal(pout === undefined, pin === undefined, `${f}: pixel data presence changed`);
      if (pin && pout) assert.ok(Buffer.from(pin).equals(Buffer.from(pout)), `${f}: pixel data changed`);
    }
    assert.ok(deidentified >= 150 + extraFiles.length, `de-identified ${deidentified}, refused ${refused}`);
    // The same study seen in different files (the MR_small family, dcm_qa_ts) kept one new StudyInstanceUID.
    assert.ok(uidMap.size > 100, `uids mapped: ${uidMap.size}`);
  });

  it('keeps references between instances intact (same input UID → same output UID in another file)', () => {
    // dcm_qa_ts: one image in nine transfer syntaxes → one SOPInstanceUID pair per syntax, all same study.
    const studies = new Set<string>();
    for (const [name, bytes] of outputs) if (name.startsWith('dcm_qa_ts/')) studies.add(String(parseDicom(bytes, name).dataset['StudyInstanceUID']));
    assert.equal(studies.size, 1, [...studies].join(' '));
  });

  describe('dciodvfy: no new errors versus the input', { skip: spawnSync('dciodvfy', ['-h']).error !== undefined }, () => {
    let dir = '';
    before(async () => { dir = await mkdtemp(join(tmpdir(), 'sr-deid-')); });
    after(async () => { await rm(dir, { recursive: true, force: true }); });
    const errors = (path: string): Set<string> => {
      const r = spawnSync('dciodvfy', [path], { encoding: 'utf8' });
      return new Set(`${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.startsWith('Error')).map((l) => l.replace(/".*?"|\d+(\.\d+)+/g, '…')));
    };
    for (const name of ['pydicom/test_files/CT_small.dcm', 'pydicom/test_files/MR_small.dcm', 'pydicom/test_files/rtplan.dcm', 'pydicom/test_files/rtstruct.dcm', 'pydicom/test_files/test-SR.dcm', 'pydicom/test_files/JPEG2000.dcm']) {
      it(name, async () => {
        const out = outputs.get(name);
        assert.ok(out, `${name} was not de-identified`);
        const path = join(dir, name.replaceAll('/', '_'));
        await writeFile(path, out);
        const before = errors(join(CORPUS, name));
        const fresh = [...errors(path)].filter((e) => !before.has(e));
        assert.deepEqual(fresh, []);
      });
    }
  });
});
