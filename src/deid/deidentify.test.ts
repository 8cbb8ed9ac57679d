/**
 * De-identification over the conformance corpus (../shared/data/dicom-conformance, read in place): for every
 * file the project's reader accepts, the output parses, no profile attribute with action X/Z/D keeps its
 * original value anywhere in the dataset, private attributes are gone, UIDs are remapped consistently across
 * files and pixel data is byte-identical; every other file gives a coded error. Plus dciodvfy on a few outputs.
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
import { PROFILE } from './profile.ts';
import { readRaw } from './raw.ts';
import type { RawElement } from './raw.ts';

const CORPUS = new URL('../../../shared/data/dicom-conformance/', import.meta.url).pathname;
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

/** Every (keyword, value) leaf of a naturalized dataset, at any depth. */
function leaves(ds: DicomDataset, out: [string, string][] = []): [string, string][] {
  for (const [k, v] of Object.entries(ds)) {
    if (k.startsWith('_')) continue;
    if (Array.isArray(v) && v.some((x) => typeof x === 'object' && x !== null && !ArrayBuffer.isView(x) && !(x instanceof ArrayBuffer))) {
      for (const item of v) if (typeof item === 'object' && item !== null) leaves(item as DicomDataset, out);
    } else if (v !== undefined && v !== null && !ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer)) {
      out.push([k, JSON.stringify(v)]);
    }
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
const removedKeywords = (o: Opts) => new Set(PROFILE.filter((r) => ['X', 'Z', 'D'].includes(effectiveAction(r, o))).map((r) => r.keyword));
const U_KEYWORDS = new Set(PROFILE.filter((r) => effectiveAction(r, {}) === 'U').map((r) => r.keyword));
const files = skip ? [] : listFiles(CORPUS);

for (const [label, opts, methodCodes] of [
  ['basic profile', {}, ['113100']],
  ['with both options', { retainModifiedDates: true, retainPatientCharacteristics: true }, ['113100', '113107', '113108']],
] as const) describe(`de-identification over the conformance corpus (${label})`, { skip }, () => {
  const REMOVED_KEYWORDS = removedKeywords(opts);
  const d = createDeidentifier({ secret: SECRET, ...opts });
  const uidMap = new Map<string, string>();
  const reverse = new Map<string, string>();
  let deidentified = 0;
  let refused = 0;
  const outputs = new Map<string, Buffer>();

  it('de-identifies every readable file; unreadable ones give a coded error', () => {
    assert.ok(files.length > 150, `corpus files: ${files.length}`);
    for (const f of files) {
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
      outputs.set(f.slice(CORPUS.length), out);
      const inDs = parseDicom(input, f).dataset;
      const outDs = parseDicom(out, `${f} (de-identified)`).dataset;

      const outLeaves = new Set(leaves(outDs).map(([k, v]) => `${k}=${v}`));
      for (const [k, v] of leaves(inDs)) {
        if (!REMOVED_KEYWORDS.has(k) || v === '""' || v === '[]') continue;
        assert.ok(!outLeaves.has(`${k}=${v}`), `${f}: ${k} kept its original value ${v}`);
      }
      assert.deepEqual(privateTags(readRaw(out, f).dataset), [], `${f}: private attributes left`);
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
    assert.ok(deidentified >= 150, `de-identified ${deidentified}, refused ${refused}`);
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
