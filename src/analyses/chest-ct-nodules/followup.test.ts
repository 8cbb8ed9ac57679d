import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding } from '../../engine/types.ts';
import type { Vec3 } from '../../imaging/index.ts';
import { applyAffine, invertAffine, rigidAffine, IDENTITY_AFFINE } from '../../imaging/index.ts';
import { volumeDoublingTimeDays } from '../../clinical/index.ts';
import { isSrError } from '../../core/errors.ts';
import { assign, compareWithPrior, daysBetween } from './followup.ts';

function nodule(id: string, c: Vec3, d: number, opts: { p?: number; type?: string; volume?: number } = {}): Finding {
  const volume = opts.volume ?? (Math.PI * d ** 3) / 6;
  return {
    id, kind: 'lung-nodule', centerMm: c, probability: opts.p ?? 0.9, noduleType: opts.type ?? 'solid', diameterMm: d,
    measurements: { meanDiameterMm: d, longAxisMm: d * 1.1, shortAxisMm: d * 0.9, volumeMm3: volume },
    reasons: ['base'],
  };
}

test('assign: optimal, not greedy; forbidden pairs stay apart', () => {
  // Greedy would take (0,0)=1 then (1,1)=9; optimal is (0,1)+(1,0) = 2+2.
  assert.deepEqual(assign([[1, 2], [2, 9]], 2, 10), [1, 0]);
  assert.deepEqual(assign([[Infinity], [0.5]], 1, 1), [-1, 0]);
  assert.deepEqual(assign([], 3, 1), []);
  // Leaving both alone (2 × 1) is cheaper than a pair costing 3.
  assert.deepEqual(assign([[3]], 1, 1), [-1]);
});

test('daysBetween: DICOM dates', () => {
  assert.equal(daysBetween('20240101', '20250101'), 366);
  assert.equal(daysBetween('2024-01-01', '20250101'), undefined);
  assert.equal(daysBetween(undefined, '20250101'), undefined);
});

test('pairs through the registration: new, stable, grown, shrunk, resolved, VDT and prior fields', () => {
  // The patient moved: current LPS → prior LPS is a rotation of 2° and 12 mm of table shift.
  const currentToPrior = rigidAffine([0, 0, 2], [12, -5, 30], [0, 0, 0]);
  const toPrior = (c: Vec3) => applyAffine(currentToPrior, c);
  const days = 365;
  const current = [
    nodule('n1', [-60, 10, -50], 8), // stable
    nodule('n2', [70, -20, 0], 12, { volume: 900 }), // grown from 6 mm / 113 mm³
    nodule('n3', [50, 30, 60], 5), // new
    nodule('n4', [-40, -30, 80], 5), // shrunk from 10 mm
    nodule('n5', [0, 0, 0], 4, { p: 0.01 }), // faint, unpaired: untouched
  ];
  const prior = [
    nodule('p1', toPrior([-60.5, 10.5, -49]), 8),
    nodule('p2', toPrior([69, -21, 1]), 6, { volume: 113 }),
    nodule('p3', toPrior([-40, -30, 80]), 10),
    nodule('p4', toPrior([20, 60, -90]), 7), // resolved
  ];
  const r = compareWithPrior(current, prior, { currentToPrior, intervalDays: days });
  const by = (id: string) => r.findings.find((f) => f.id === id) as Finding;
  assert.equal(by('n1')['status'], 'stable');
  assert.equal(by('n2')['status'], 'grown');
  assert.equal(by('n3')['status'], 'new');
  assert.equal(by('n4')['status'], 'shrunk');
  assert.equal(by('n5')['status'], undefined);
  assert.equal(by('n2')['priorFindingId'], 'p2');
  assert.equal(by('n2')['priorVolumeMm3'], 113);
  assert.equal(by('n2')['vdtDays'], Math.round(volumeDoublingTimeDays(113, 900, days)));
  assert.ok((by('n4')['vdtDays'] as number) < 0, 'shrinking → negative VDT (halving time)');
  assert.deepEqual(by('n1')['priorCenterMm'], (prior[0] as Finding).centerMm.map((x) => Math.round(x * 10) / 10));
  const resolved = by('resolved-p4');
  assert.equal(resolved['status'], 'resolved');
  assert.equal(resolved.probability, 0);
  const back = applyAffine(invertAffine(currentToPrior), (prior[3] as Finding).centerMm);
  assert.ok(Math.hypot(resolved.centerMm[0] - back[0], resolved.centerMm[1] - back[1], resolved.centerMm[2] - back[2]) < 0.1);
  assert.deepEqual(r.summary.counts, { new: 1, stable: 1, grown: 1, shrunk: 1, resolved: 1 });
  // Lung-RADS with the prior: growing solid ≥ 8 mm → 4B drives the exam; the new 5 mm solid → 3.
  assert.ok(r.lungRads);
  assert.equal(r.lungRads.category, '4B');
  const rule = (id: string) => r.lungRads?.findings.find((f) => f.id === id)?.category;
  assert.equal(rule('n3'), '3');
  assert.equal(rule('n1'), '3'); // stable 8 mm solid, prior baseline 4A → stepped management to 3
});

test('without registration the same pairs are missed: the registration is what pairs them', () => {
  const currentToPrior = rigidAffine([0, 0, 0], [0, 0, 40]);
  const current = [nodule('n1', [-60, 10, -50], 8)];
  const prior = [nodule('p1', applyAffine(currentToPrior, [-60, 10, -50]), 8)];
  assert.equal(compareWithPrior(current, prior, { currentToPrior, intervalDays: 100 }).findings[0]?.['status'], 'stable');
  const wrong = compareWithPrior(current, prior, { currentToPrior: IDENTITY_AFFINE, intervalDays: 100 });
  assert.equal(wrong.findings[0]?.['status'], 'new');
  assert.equal(wrong.summary.counts.resolved, 1);
});

test('a faint prior detection confirms a reported current nodule (not new)', () => {
  const current = [nodule('n1', [10, 10, 10], 7)];
  const prior = [nodule('p1', [11, 10, 10], 6.5, { p: 0.2 })];
  const r = compareWithPrior(current, prior, { currentToPrior: IDENTITY_AFFINE, intervalDays: 90 });
  assert.equal(r.findings[0]?.['status'], 'stable');
  assert.equal(r.summary.counts.resolved, 0);
});

test('prior-guided: a sub-threshold current candidate at a reported prior nodule is shown as stable/grown, not new + resolved', () => {
  const currentToPrior = rigidAffine([0, 0, 1.5], [4, -3, 2], [0, 0, 0]);
  const current = [
    nodule('n1', [-50, 20, 40], 9),
    nodule('n2', [30, -10, -20], 8, { p: 0.18 }), // the prior's p1 seen faintly now: prior-guided
    nodule('n3', [0, 0, 0], 6, { p: 0.3 }), // sub-threshold, no prior nodule near: stays unshown
  ];
  const prior = [
    nodule('p1', applyAffine(currentToPrior, [30.5, -10, -19.5]), 6),
    nodule('p2', applyAffine(currentToPrior, [-50, 20, 40]), 9),
  ];
  // Off by default (it did not generalise: FollowUpOptions.guideCurrent): n2 stays unshown, p1 is resolved.
  const off = compareWithPrior(current, prior, { currentToPrior, intervalDays: 365 });
  assert.equal(off.findings.find((f) => f.id === 'n2')?.['status'], undefined);
  assert.deepEqual(off.findings.filter((f) => f['status'] === 'resolved').map((f) => f['priorFindingId']), ['p1']);
  const r = compareWithPrior(current, prior, { currentToPrior, intervalDays: 365, guideCurrent: true });
  const by = (id: string) => r.findings.find((f) => f.id === id) as Finding;
  assert.equal(by('n2')['status'], 'grown'); // 6 → 8 mm in a year: > 1.5 mm
  assert.equal(by('n2')['priorGuided'], true);
  assert.equal(by('n2')['priorFindingId'], 'p1');
  assert.equal(by('n2').probability, 0.18, 'the candidate keeps its own probability');
  assert.equal(by('n2')['label'], undefined, 'no mask label: the label map paints only what the analysis displays');
  assert.ok(by('n2').reasons?.some((x) => /prior-guided/.test(x)));
  assert.equal(by('n1')['status'], 'stable');
  assert.equal(by('n1')['priorGuided'], undefined);
  assert.equal(by('n3')['status'], undefined);
  assert.equal(r.findings.some((f) => f['status'] === 'resolved'), false);
  assert.deepEqual(r.summary.counts, { new: 0, stable: 1, grown: 1, shrunk: 0, resolved: 0 });
  assert.equal(r.summary.pairs.find((q) => q.currentId === 'n2')?.priorGuided, true);
  assert.ok(r.lungRads?.findings.some((f) => f.id === 'n2'), 'the shown nodule enters Lung-RADS');
});

test('probed findings (probeIds): a probed current nodule pairs and is shown; a probed prior nodule stops a "new"; unpaired or below the floor they get no status and are never new or resolved', () => {
  const current = [
    nodule('n1', [30, 0, 0], 8), // reported; the prior detector missed it — a prior probe finds it
    nodule('n2', [-40, 10, 20], 7), // reported, truly new: the prior probe found only a faint speck (below the floor)
    nodule('probe-r1', [0, 40, -30], 6.5, { p: 0.09 }), // probed at the registered position of prior p1
    nodule('probe-r2', [50, 50, 50], 5, { p: 0.2 }), // probed, but nothing reported on the prior there
  ];
  const prior = [
    nodule('p1', [0.5, 40, -30], 6), // reported; the current detector missed it
    nodule('prior-probe-n1', [30.5, 0, 0], 7.5, { p: 0.12 }),
    nodule('prior-probe-n2', [-40, 10.5, 20], 6.5, { p: 0.02 }),
  ];
  const probeIds = new Set(['probe-r1', 'probe-r2', 'prior-probe-n1', 'prior-probe-n2']);
  const r = compareWithPrior(current, prior, { currentToPrior: IDENTITY_AFFINE, intervalDays: 365, probeIds, probeSupportThreshold: 0.05 });
  const by = (id: string) => r.findings.find((f) => f.id === id) as Finding;
  assert.equal(by('probe-r1')['status'], 'stable');
  assert.equal(by('probe-r1')['priorFindingId'], 'p1');
  assert.equal(by('probe-r1')['priorGuided'], true);
  assert.equal(by('n1')['status'], 'stable');
  assert.equal(by('n1')['priorFindingId'], 'prior-probe-n1');
  assert.equal(by('n2')['status'], 'new', 'a probe below the floor does not pair');
  assert.equal(by('probe-r2')['status'], undefined, 'an unpaired probe finding is not new');
  assert.equal(r.findings.some((f) => f['status'] === 'resolved'), false, 'p1 is paired; prior probe findings are never resolved');
  assert.deepEqual(r.summary.counts, { new: 1, stable: 2, grown: 0, shrunk: 0, resolved: 0 });
  // Without probeIds the same sub-threshold current finding is not shown (guideCurrent is off) and p1 is resolved.
  const plain = compareWithPrior(current, prior, { currentToPrior: IDENTITY_AFFINE, intervalDays: 365 });
  assert.equal(plain.findings.find((f) => f.id === 'probe-r1')?.['status'], undefined);
  assert.ok(plain.findings.some((f) => f['status'] === 'resolved' && f['priorFindingId'] === 'p1'));
});

test('a probed finding above the display threshold still pairs only by the guided rules (type family, volume ratio), never as a reported pair', () => {
  const current = [
    nodule('n1', [30, 0, 0], 9, { type: 'solid' }), // truly new; the prior probe found a ground-glass false positive there at p 0.53
    nodule('n2', [-30, 0, 0], 8, { type: 'solid' }), // the prior probe found its smaller precursor at p 0.6
    nodule('probe-r1', [0, 30, 0], 5, { p: 0.7, type: 'solid' }), // probed at the registered position of a prior 13 mm nodule: ×17 volume
  ];
  const prior = [
    nodule('p1', [0, 30, 0], 13, { type: 'solid' }),
    nodule('prior-probe-n1', [30.5, 0, 0], 6.4, { p: 0.53, type: 'ground-glass' }),
    nodule('prior-probe-n2', [-30, 0.5, 0], 6, { p: 0.6, type: 'solid' }),
  ];
  const probeIds = new Set(['probe-r1', 'prior-probe-n1', 'prior-probe-n2']);
  const r = compareWithPrior(current, prior, { currentToPrior: IDENTITY_AFFINE, intervalDays: 365, probeIds, probeSupportThreshold: 0.05 });
  const by = (id: string) => r.findings.find((f) => f.id === id) as Finding;
  assert.equal(by('n1')['status'], 'new', 'a probed prior of another type family does not pair, even at p ≥ 0.5');
  assert.equal(by('n2')['status'], 'grown');
  assert.equal(by('n2')['priorGuided'], true, 'a pair with a probed prior is prior-guided');
  assert.ok(by('n2').reasons?.some((x) => x.includes('follow-up probe found nodule prior-probe-n2')));
  assert.equal(by('probe-r1')['status'], undefined, 'a probed current finding 17× smaller does not pair');
  assert.ok(r.findings.some((f) => f['status'] === 'resolved' && f['priorFindingId'] === 'p1'));
  assert.deepEqual(r.summary.counts, { new: 1, stable: 0, grown: 1, shrunk: 0, resolved: 1 });
});

test('prior-guided: a distant, much larger/smaller or other-type candidate is not paired', () => {
  const current = [
    nodule('n1', [0, 0, 0], 6, { p: 0.3 }), // 14 mm from p1: beyond the gate (6 + ½·7 mm)
    nodule('n2', [40, 0, 0], 6), // a true new nodule; the prior has a 16 mm-wide vessel candidate there (×19 volume)
    nodule('n3', [-40, 0, 0], 6, { p: 0.3, type: 'solid' }), // the prior nodule there is ground-glass
    nodule('n4', [0, 40, 0], 6, { p: 0.02 }), // below the support floor
  ];
  const prior = [
    nodule('p1', [14, 0, 0], 7),
    nodule('p2', [41, 0, 0], 16, { p: 0.2 }),
    nodule('p3', [-40.5, 0, 0], 6, { type: 'ground-glass' }),
    nodule('p4', [0, 40.5, 0], 6),
  ];
  const r = compareWithPrior(current, prior, { currentToPrior: IDENTITY_AFFINE, intervalDays: 200, guideCurrent: true });
  const by = (id: string) => r.findings.find((f) => f.id === id) as Finding;
  assert.equal(by('n1')['status'], undefined);
  assert.equal(by('n2')['status'], 'new');
  assert.equal(by('n3')['status'], undefined);
  assert.equal(by('n4')['status'], undefined);
  assert.equal(r.findings.some((f) => f['priorGuided'] === true), false);
  assert.deepEqual(r.findings.filter((f) => f['status'] === 'resolved').map((f) => f['priorFindingId']).sort(), ['p1', 'p3', 'p4']);
  // The same size gate, opened: n2 would be paired with the vessel candidate.
  const loose = compareWithPrior(current, prior, { currentToPrior: IDENTITY_AFFINE, intervalDays: 200, guidedMaxVolumeRatio: 100, guideCurrent: true });
  assert.equal(loose.findings.find((f) => f.id === 'n2')?.['status'], 'shrunk');
});

test('bad interval: coded error', () => {
  assert.throws(() => compareWithPrior([], [], { currentToPrior: IDENTITY_AFFINE, intervalDays: 0 }), (e) => isSrError(e, 'CLINICAL_INVALID_INPUT'));
});

test('withFollowUp: same output without a prior; says why it does not compare (dates, PatientID, same series)', async () => {
  const { withFollowUp } = await import('./followup-manifest.ts');
  const { ANALYSIS_API_VERSION } = await import('../../engine/types.ts');
  const { silentLogger } = await import('../../core/index.ts');
  type Ctx = Parameters<import('../../engine/types.ts').AnalysisManifest['run']>[0];
  let loads = 0;
  const base: import('../../engine/types.ts').AnalysisManifest = {
    apiVersion: ANALYSIS_API_VERSION, id: 'fake', version: '1.0.0', title: 't', intendedUse: 'test', modalities: ['CT'],
    resources: { memoryMb: 1, threads: 1 }, steps: ['x'], accepts: () => ({ accept: true }),
    run: async () => ({ findings: [nodule('n1', [0, 0, 0], 8)], measurements: { a: 1 } }),
  };
  const header = (series: string, date: string, pid = 'P1') => ({
    studyInstanceUid: `st-${series}`, seriesInstanceUid: series, modality: 'CT', seriesDescription: undefined, bodyPartExamined: undefined,
    sliceThicknessMm: 1, imageType: [], instanceCount: 100, patientAgeYears: undefined, patientSex: undefined, contrastAgent: undefined,
    attributes: { StudyDate: date, PatientID: pid },
  });
  const ctx = (prior?: ReturnType<typeof header>): Ctx => ({
    header: header('cur', '20250101'), series: {} as Ctx['series'], log: silentLogger, progress: () => undefined, signal: new AbortController().signal,
    ...(prior ? { prior: { header: prior, loadVolume: async () => { loads++; throw new Error('not loaded in this test'); } } } : {}),
  });
  const m = withFollowUp(base);
  assert.equal(m.id, 'fake');
  assert.equal(m.version, '1.0.0');
  assert.deepEqual(await m.run(ctx()), await base.run(ctx()));
  const reason = async (p: ReturnType<typeof header>) => ((await m.run(ctx(p))).measurements['followUp'] as { compared: boolean; reason: string });
  assert.equal((await reason(header('old', '20250601'))).compared, false);
  assert.match((await reason(header('old', '20250601'))).reason, /StudyDate/);
  assert.match((await reason(header('old', '20240101', 'P2'))).reason, /PatientID/);
  assert.match((await reason(header('cur', '20240101'))).reason, /same series|current series/);
  assert.equal(loads, 0);
  // A prior that cannot be loaded: not compared, the current findings stand.
  const failed = await m.run(ctx(header('old', '20240101')));
  assert.equal(loads, 1);
  assert.equal((failed.measurements['followUp'] as { compared: boolean }).compared, false);
  assert.equal(failed.findings.length, 1);
});
