/**
 * Findings and study measurements: per-nodule Lung-RADS v2022 measurements, type and location, Brock
 * (PanCan) probability with the unknown inputs stated, the exam's Lung-RADS category with its driving nodule,
 * Fleischner 2017 for the most suspicious incidental nodule, lung volumes. Clinical numbers come only from
 * src/clinical.
 */
import { brockProbability, fleischnerRecommendation, lungRadsCategory } from '../../clinical/index.ts';
import type { BrockResult, FleischnerRecommendation, LungRadsNoduleInput, LungRadsResult } from '../../clinical/index.ts';
import type { Finding, SeriesHeader } from '../../engine/types.ts';
import type { Vec3 } from '../../imaging/index.ts';
import { lpsToIjk, voxelVolumeMm3 } from '../../imaging/index.ts';
import { LUNG_LABEL } from './lung-segmentation.ts';
import type { LungSegmentation } from './lung-segmentation.ts';
import { axialAxes, round1 } from './measure.ts';
import type { DetectedNodule, PipelineResult } from './pipeline.ts';
import { cutByScanEdge } from './pipeline.ts';
import { denseBeyondLung } from './segment-nodule.ts';
import { regionStats } from '../../imaging/index.ts';

/** Findings at or above this probability enter the label map, Lung-RADS, Brock and Fleischner. */
export const DISPLAY_THRESHOLD = 0.5;
/** Findings below this are not reported at all (FROC still gets the curve up to far beyond 8 FP/scan). */
export const REPORT_FLOOR = 0.005;
export const MAX_FINDINGS = 60;

export interface NoduleLocation {
  side: 'left' | 'right';
  /** Thirds of the covered lung height. */
  zone: 'upper' | 'middle' | 'lower';
  juxtapleural: boolean;
  /** Inner third of the lung's width on that slice = central. */
  centralPeripheral: 'central' | 'peripheral';
}

function locate(lungs: LungSegmentation, n: DetectedNodule): NoduleLocation {
  const lab = lungs.labels;
  const q = lpsToIjk(lab, n.centerMm).map(Math.round) as Vec3;
  const [nx, ny, nz] = lab.dims;
  const k = Math.min(nz - 1, Math.max(0, q[2]));
  const j = Math.min(ny - 1, Math.max(0, q[1]));
  const i = Math.min(nx - 1, Math.max(0, q[0]));
  let label = lab.data[i + j * nx + k * nx * ny] as number;
  if (label === 0) label = n.centerMm[0] > lungs.midlineXMm ? LUNG_LABEL.left : LUNG_LABEL.right;
  const side = label === LUNG_LABEL.left ? 'left' : 'right';
  // Lateral extent of this lung on the nodule's slice, in index i (the patient's left-right axis for axial scans).
  let lo = Infinity, hi = -Infinity;
  for (let jj = 0; jj < ny; jj++) for (let ii = 0; ii < nx; ii++) {
    if (lab.data[ii + jj * nx + k * nx * ny] === label) { if (ii < lo) lo = ii; if (ii > hi) hi = ii; }
  }
  let central = false;
  if (hi >= lo) {
    const mid = lungs.midlineXMm;
    // The medial edge is the one nearer the midline.
    const xLo = lab.origin[0] + lab.direction[0] * lo * lab.spacing[0];
    const xHi = lab.origin[0] + lab.direction[0] * hi * lab.spacing[0];
    const medial = Math.abs(xLo - mid) < Math.abs(xHi - mid) ? xLo : xHi;
    const width = Math.abs(xHi - xLo) || 1;
    central = Math.abs(n.centerMm[0] - medial) < width / 3;
  }
  const [z0, z1] = lungs.zRangeMm ?? [n.centerMm[2] - 1, n.centerMm[2] + 1];
  const f = (n.centerMm[2] - z0) / Math.max(1, z1 - z0);
  return {
    side,
    zone: f > 2 / 3 ? 'upper' : f > 1 / 3 ? 'middle' : 'lower',
    juxtapleural: n.seg.pleuralContact > 0.02,
    centralPeripheral: central ? 'central' : 'peripheral',
  };
}

export interface NoduleReport {
  finding: Finding;
  nodule: DetectedNodule;
  lungRadsInput: LungRadsNoduleInput;
}

function lungRadsType(t: DetectedNodule['seg']['type']): LungRadsNoduleInput['type'] {
  return t;
}

export function buildFindings(res: PipelineResult, analysisVersion: string): NoduleReport[] {
  const out: NoduleReport[] = [];
  const list = res.nodules.filter((n) => n.probability >= REPORT_FLOOR).slice(0, MAX_FINDINGS);
  let label = 0;
  list.forEach((n, idx) => {
    const id = `n${idx + 1}`;
    const seg = n.seg;
    const axes = n.measures.axes;
    const stats = regionStats(seg.hu, seg.mask);
    const loc = locate(res.lungs, n);
    const solidAxes = seg.solid ? axialAxes(seg.solid) : undefined;
    // The solid component lies inside the nodule, but each is measured on its own slice of greatest extent, so on
    // an irregular mass the component's long + short axis can exceed the whole's: Lung-RADS needs solid ≤ total.
    const solidMm = solidAxes ? Math.min(solidAxes.meanDiameterMm, axes.meanDiameterMm) : undefined;
    const display = n.probability >= DISPLAY_THRESHOLD;
    const lab = display ? ++label : undefined;
    const volumeMm3 = Math.round(seg.volumeMm3 * 10) / 10;
    const reasons = [
      `${seg.type} nodule, mean diameter ${axes.meanDiameterMm.toFixed(1)} mm (long ${axes.longAxisMm.toFixed(1)} × short ${axes.shortAxisMm.toFixed(1)} mm on the axial slice of greatest extent)`,
      ...(seg.rulesType !== undefined ? [`typed ${seg.type} by the type model from its attenuation profile (the attenuation rules alone read ${seg.rulesType}); segmented as ${seg.type}`] : []),
      `volume ${volumeMm3.toFixed(0)} mm³, maximum 3D diameter ${n.measures.maxDiameterMm.toFixed(1)} mm`,
      `attenuation ${stats.mean.toFixed(0)} ± ${stats.sd.toFixed(0)} HU (plateau ${seg.levelHu.toFixed(0)} HU vs parenchyma ${seg.bgHu.toFixed(0)} HU)`,
      `shape: elongation ${n.measures.moments.elongation.toFixed(2)}, Hessian λ ratios ${(n.measures.hessian[0] / (n.measures.hessian[2] || 1)).toFixed(2)}/${(n.measures.hessian[1] / (n.measures.hessian[2] || 1)).toFixed(2)}`,
      `${loc.side} lung, ${loc.zone} zone, ${loc.centralPeripheral}${loc.juxtapleural ? ', juxtapleural' : ''}`,
      ...(solidMm !== undefined ? [`solid component mean diameter ${solidMm.toFixed(1)} mm`] : []),
      ...(denseBeyondLung(n.seg) ? ['its calcium-dense region runs on beyond the lung: the edge of a bone (rib, vertebra, costal cartilage) more likely than a calcified nodule; its probability is held below the display threshold'] : []),
      ...(cutByScanEdge(res.lungs.labels, n) ? ['cut by the first or last slice of the scan: only partly imaged; its size is that of the imaged part and, unless a mass, its probability is held below the display threshold'] : []),
    ];
    const finding: Finding = {
      id,
      kind: 'lung-nodule',
      centerMm: [round1(n.centerMm[0]), round1(n.centerMm[1]), round1(n.centerMm[2])],
      probability: Math.round(n.probability * 10000) / 10000,
      ...(lab !== undefined ? { label: lab } : {}),
      reasons,
      assistive: true,
      analysisVersion,
      noduleType: seg.type,
      diameterMm: axes.meanDiameterMm,
      measurements: {
        meanDiameterMm: axes.meanDiameterMm,
        longAxisMm: round1(axes.longAxisMm),
        shortAxisMm: round1(axes.shortAxisMm),
        maxDiameter3dMm: round1(n.measures.maxDiameterMm),
        volumeMm3,
        meanHu: Math.round(stats.mean),
        sdHu: Math.round(stats.sd),
        ...(solidMm !== undefined ? { solidComponentMeanDiameterMm: solidMm } : {}),
      },
      location: loc,
    };
    const lungRadsInput: LungRadsNoduleInput = {
      id, type: lungRadsType(seg.type), meanDiameterMm: axes.meanDiameterMm, status: 'baseline',
      ...(seg.type === 'part-solid' ? { solidComponentMm: solidMm ?? 0 } : {}),
    };
    out.push({ finding, nodule: n, lungRadsInput });
  });
  return out;
}

export interface StudyReport {
  measurements: Record<string, unknown>;
  brock: Map<string, BrockResult>;
}

function brockType(t: DetectedNodule['seg']['type']): 'solid' | 'part-solid' | 'non-solid' | null {
  return t === 'ground-glass' ? 'non-solid' : t === 'calcified' ? null : t;
}

export function studyReport(header: SeriesHeader, res: PipelineResult, reports: readonly NoduleReport[]): StudyReport {
  const shown = reports.filter((r) => r.nodule.probability >= DISPLAY_THRESHOLD);
  const brock = new Map<string, BrockResult>();
  const assumptions: string[] = [];
  const ageKnown = header.patientAgeYears !== undefined;
  const sexKnown = header.patientSex === 'M' || header.patientSex === 'F';
  const age = header.patientAgeYears ?? 62;
  const sex = header.patientSex === 'F' ? 'female' : 'male';
  if (!ageKnown) assumptions.push('PatientAge unknown: set to 62 years (the model centre)');
  if (!sexKnown) assumptions.push('PatientSex unknown: set to male (the lower-risk sex in the model)');
  const emphysema = res.laa950 >= 0.06;
  assumptions.push(`emphysema measured from the pixels: ${(100 * res.laa950).toFixed(1)} % of lung below −950 HU → ${emphysema ? 'present' : 'absent'} (threshold 6 %)`);
  assumptions.push('family history unknown: set absent; upper lobe not segmented: set absent; spiculation not assessed: set absent (see probabilityIfUnknownsPresent)');
  const perNodule: Record<string, unknown> = {};
  for (const r of shown) {
    const t = brockType(r.nodule.seg.type);
    if (!t) continue;
    const size = Math.max(1, r.nodule.measures.axes.longAxisMm);
    const b = brockProbability({
      ageYears: age, sex, noduleSizeMm: size, noduleType: t, noduleCount: Math.max(1, shown.length),
      emphysema, familyHistoryLungCancer: null, upperLobe: null, spiculation: null,
    });
    brock.set(r.finding.id, b);
    perNodule[r.finding.id] = {
      probability: Math.round(b.probability * 10000) / 10000, probabilityIfUnknownsPresent: Math.round(b.probabilityIfUnknownsPresent * 10000) / 10000,
      sizeMm: round1(size), warnings: b.warnings,
    };
  }
  let lungRads: LungRadsResult | null = null;
  if (shown.length > 0) lungRads = lungRadsCategory({ findings: shown.map((r) => r.lungRadsInput) });
  // Fleischner: the most suspicious non-calcified nodule (largest solid part, then size).
  let fleischner: FleischnerRecommendation | null = null;
  let fleischnerId: string | null = null;
  const nonCalc = shown.filter((r) => r.nodule.seg.type !== 'calcified');
  if (nonCalc.length > 0) {
    const key = (r: NoduleReport) => (r.nodule.seg.type === 'solid' ? r.nodule.measures.axes.meanDiameterMm : r.lungRadsInput.solidComponentMm ?? 0) * 100 + r.nodule.measures.axes.meanDiameterMm;
    const top = nonCalc.slice().sort((a, b) => key(b) - key(a))[0] as NoduleReport;
    const t = top.nodule.seg.type;
    fleischner = fleischnerRecommendation({
      type: t === 'calcified' ? 'solid' : t, sizeMm: top.nodule.measures.axes.meanDiameterMm, multiple: nonCalc.length > 1, risk: 'unknown',
      ...(t === 'part-solid' ? { solidComponentMm: top.lungRadsInput.solidComponentMm ?? 0 } : {}),
      ...(ageKnown ? { ageYears: age } : {}),
    });
    fleischnerId = top.finding.id;
  }
  const lv = res.lungs.volumesMl;
  const measurements: Record<string, unknown> = {
    assistive: true,
    lungVolumeMl: { left: Math.round(lv.left), right: Math.round(lv.right), total: Math.round(lv.total) },
    lungZRangeMm: res.lungs.zRangeMm,
    candidatesExamined: res.candidateCount,
    nodulesAboveDisplayThreshold: shown.length,
    displayThreshold: DISPLAY_THRESHOLD,
    lungRads: lungRads
      ? { category: lungRads.category, label: lungRads.label, drivingFindingId: lungRads.drivingId ?? null, management: lungRads.management, probabilityOfMalignancy: lungRads.probabilityOfMalignancy.text, notes: lungRads.notes, version: 'v2022', status: 'baseline assumed (no prior)' }
      : { category: '1', label: '1', drivingFindingId: null, management: '12-month screening LDCT', note: 'no nodule above the display threshold', version: 'v2022' },
    brock: { model: 'PanCan full model with spiculation (McWilliams 2013)', perNodule, inputs: { ageYears: age, sex, ageKnown, sexKnown }, assumptions },
    fleischner: fleischner
      ? { findingId: fleischnerId, row: fleischner.row, recommendation: fleischner.recommendation, applicable: fleischner.applicable, followUp: fleischner.followUp, notes: fleischner.notes, risk: 'unknown (high-risk text primary; byRisk gives both)', byRisk: fleischner.byRisk ?? null, version: '2017', scope: 'incidental nodules, adults ≥ 35, not screening' }
      : { recommendation: 'no non-calcified nodule above the display threshold: no routine follow-up', version: '2017' },
    emphysemaIndexLaa950: Math.round(res.laa950 * 1000) / 1000,
    lungSegmentationNotes: res.lungs.notes,
    isoDetectionGridMm: res.isoSpacingMm,
  };
  void voxelVolumeMm3;
  return { measurements, brock };
}
