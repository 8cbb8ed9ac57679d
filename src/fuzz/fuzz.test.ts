/**
 * A short deterministic fuzz run (the CI slice of `npm run bench:fuzz`): 2,500 mutated conformance files through
 * the DICOM reader, the P-DATA-TF parsing, STOW-RS and a few real associations. Fixed seed, so a failure here is
 * reproduced with `npm run bench:fuzz -- --seed 20261130 --only <index>`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SrError } from '../core/errors.ts';
import { loadCorpus, scanElements } from './corpus.ts';
import { runFuzz, targetFor, DEFAULT_MIX } from './harness.ts';
import { mutateDicom, MUTATORS } from './mutators.ts';
import { judgeError } from './oracle.ts';
import { inputRng } from './rng.ts';
import { fuzzParse } from './targets.ts';

const SEED = 20261130;
const corpus = loadCorpus();

describe('fuzz harness', () => {
  it('loads the conformance corpus with element maps', () => {
    assert.ok(corpus.length >= 100, `corpus has ${corpus.length} files`);
    const ct = corpus.find((c) => c.name.endsWith('CT_small.dcm'));
    assert.ok(ct);
    // Rows (0028,0010) is found at an element boundary with its 2-byte explicit length.
    const rows = ct.elements.find((e) => e.tag === 0x00280010);
    assert.ok(rows);
    assert.equal(rows.lengthSize, 2);
    assert.equal(rows.length, 2);
    assert.deepEqual(scanElements(new Uint8Array(3)), []);
  });

  it('an input is a pure function of (seed, index)', () => {
    for (const i of [0, 1, 977]) {
      const a = mutateDicom(inputRng(SEED, i), corpus);
      const b = mutateDicom(inputRng(SEED, i), corpus);
      assert.deepEqual(a.ops, b.ops);
      assert.ok(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)));
      assert.equal(targetFor(SEED, i, DEFAULT_MIX), targetFor(SEED, i, DEFAULT_MIX));
    }
    assert.notDeepEqual(mutateDicom(inputRng(SEED, 1), corpus).ops, mutateDicom(inputRng(SEED, 2), corpus).ops);
  });

  it('the oracle accepts coded rejections and flags untyped or wrapped internal errors', () => {
    assert.equal(judgeError(new SrError('DICOM_MALFORMED', 'x')).failure, undefined);
    assert.equal(judgeError(new TypeError('x')).failure?.kind, 'untyped');
    assert.equal(judgeError(new SrError('DICOM_MALFORMED', 'x', { cause: new RangeError('Offset is outside the bounds of the DataView') })).failure?.kind, 'internal');
    assert.ok(MUTATORS.length >= 12);
  });

  it('regression (bench seed 1, input 79448): a JPEG codec TypeError on a corrupt codestream is a contained DICOM_DECODE_FAILED', async () => {
    // bitFlip + vrChange of SC_rgb_jpeg_gdcm.dcm: jpeg-lossless-decoder-js throws a TypeError; pixel-decode.ts wraps it.
    const m = mutateDicom(inputRng(1, 79448), corpus);
    assert.equal(m.base, 'pydicom/test_files/SC_rgb_jpeg_gdcm.dcm');
    const o = await fuzzParse(m.bytes, 'regression', true);
    assert.equal(o.failure, undefined);
    assert.equal(o.result, 'ok+decode:DICOM_DECODE_FAILED(dependency TypeError)');
  });

  it('2,500 inputs: no crash, no hang, every rejection typed, the servers still serve', async () => {
    const s = await runFuzz({ seed: SEED, count: 2500, corpus, mix: { ...DEFAULT_MIX, association: 0.003 }, decodeEvery: 8, timeoutMs: 15_000 });
    const described = s.failures.slice(0, 5).map((f) => `${f.target} #${f.index} [${f.kind}] ${f.base} ${f.ops.join('; ')}: ${f.message}`);
    assert.deepEqual(described, []);
    assert.equal(s.inputs, 2500);
    for (const t of ['parse', 'pdata', 'stow'] as const) assert.ok(s.byTarget[t] > 0, `${t} exercised`);
    // The mutations reach past the first checks: some inputs parse, some are rejected for several reasons.
    const parseOutcomes = Object.keys(s.results).filter((k) => k.startsWith('parse:'));
    assert.ok(parseOutcomes.length >= 4, parseOutcomes.join(', '));
    assert.ok((s.results['parse:ok'] ?? 0) > 0);
    if (s.byTarget.stow > 0) assert.equal(s.finalChecks.stowStatus, 200);
    if (s.byTarget.association > 0) assert.equal(s.finalChecks.echoOk, true);
  });
});
