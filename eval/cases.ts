/**
 * Evaluation cases: a DICOM folder plus its truth, from the phantom writers (eval/phantoms) or from real data.
 * The phantom writers' results are read defensively (`unknown` → typed), so a field renamed there fails here
 * with TRUTH_INVALID rather than as a silently empty truth.
 */
import { SrError } from '../src/core/index.ts';
import type { Vec3 } from '../src/imaging/index.ts';
import type { HeadCaseTruth } from './metrics/hemorrhage.ts';
import type { NoduleTruth } from './metrics/nodules.ts';

export interface ChestEvalCase {
  readonly caseId: string;
  readonly dicomDir: string;
  readonly nodules: readonly NoduleTruth[];
}

export interface HeadEvalCase {
  readonly caseId: string;
  readonly dicomDir: string;
  readonly truth: HeadCaseTruth;
}

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SrError('TRUTH_INVALID', `${what} is not an object`);
  return v as Obj;
}

function str(o: Obj, keys: readonly string[], what: string): string {
  for (const k of keys) if (typeof o[k] === 'string' && (o[k] as string).length > 0) return o[k] as string;
  throw new SrError('TRUTH_INVALID', `${what}: none of ${keys.join('/')} is a string`);
}

function optStr(o: Obj, keys: readonly string[]): string | undefined {
  for (const k of keys) if (typeof o[k] === 'string') return o[k] as string;
  return undefined;
}

function optNum(o: Obj, keys: readonly string[]): number | undefined {
  for (const k of keys) if (typeof o[k] === 'number' && Number.isFinite(o[k])) return o[k] as number;
  return undefined;
}

function vec3(v: unknown, what: string): Vec3 {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new SrError('TRUTH_INVALID', `${what} is not an [x, y, z] LPS point`);
  }
  return [v[0] as number, v[1] as number, v[2] as number];
}

function caseIdOf(o: Obj, i: number): string {
  const explicit = optStr(o, ['caseId', 'id']);
  if (explicit) return explicit;
  const dir = optStr(o, ['dir']);
  return dir ? (dir.split(/[\\/]/).filter(Boolean).pop() ?? `case-${i + 1}`) : `case-${i + 1}`;
}

/** Chest phantom writer result → cases. Nodule fields: id, centerMm, diameterMm, volumeMm3|volumeMl, type, placement. */
export function chestCasesFromPhantoms(result: unknown): ChestEvalCase[] {
  if (!Array.isArray(result)) throw new SrError('TRUTH_INVALID', 'chest phantom writer did not return a list of cases');
  return result.map((r, i) => {
    const c = obj(r, `chest case ${i + 1}`);
    const caseId = caseIdOf(c, i);
    const truth = c['truth'] === undefined ? c : obj(c['truth'], `${caseId} truth`);
    const list = truth['nodules'];
    if (!Array.isArray(list)) throw new SrError('TRUTH_INVALID', `${caseId}: truth has no nodules list`);
    const nodules = list.map((n, j): NoduleTruth => {
      const o = obj(n, `${caseId} nodule ${j + 1}`);
      const ml = optNum(o, ['volumeMl']);
      const volumeMm3 = optNum(o, ['volumeMm3']) ?? (ml !== undefined ? ml * 1000 : undefined);
      const diameterMm = optNum(o, ['diameterMm', 'equivalentDiameterMm']);
      if (diameterMm === undefined) throw new SrError('TRUTH_INVALID', `${caseId} nodule ${j + 1}: no diameterMm`);
      const type = optStr(o, ['type', 'noduleType']);
      const placement = optStr(o, ['placement', 'attachment', 'location']);
      const relevant = typeof o['relevant'] === 'boolean' ? (o['relevant'] as boolean) : undefined;
      return {
        id: optStr(o, ['id']) ?? `${caseId}-n${j + 1}`, caseId, centerMm: vec3(o['centerMm'], `${caseId} nodule ${j + 1} centerMm`), diameterMm,
        ...(volumeMm3 !== undefined ? { volumeMm3 } : {}), ...(type ? { type } : {}), ...(placement ? { placement } : {}),
        ...(relevant !== undefined ? { relevant } : {}),
      };
    });
    return { caseId, dicomDir: str(c, ['dicomDir', 'dir'], `${caseId}`), nodules };
  });
}

/** Head phantom writer result (HeadCaseWriteResult[]) → cases. */
export function headCasesFromPhantoms(result: unknown): HeadEvalCase[] {
  if (!Array.isArray(result)) throw new SrError('TRUTH_INVALID', 'head phantom writer did not return a list of cases');
  return result.map((r, i) => {
    const c = obj(r, `head case ${i + 1}`);
    const caseId = caseIdOf(c, i);
    const t = obj(c['truth'], `${caseId} truth`);
    if (typeof t['hasHemorrhage'] !== 'boolean') throw new SrError('TRUTH_INVALID', `${caseId}: truth.hasHemorrhage missing`);
    const bleeds = (Array.isArray(t['bleeds']) ? t['bleeds'] : []).map((b, j) => {
      const o = obj(b, `${caseId} bleed ${j + 1}`);
      const volumeMl = optNum(o, ['volumeMl']);
      if (volumeMl === undefined) throw new SrError('TRUTH_INVALID', `${caseId} bleed ${j + 1}: no volumeMl`);
      const diameterMm = optNum(o, ['diameterMm']);
      const ex = o['extentMm'];
      const extentMm = ex !== undefined && ex !== null ? { minMm: vec3(obj(ex, `${caseId} bleed extentMm`)['minMm'], `${caseId} bleed extentMm.minMm`), maxMm: vec3(obj(ex, `${caseId} bleed extentMm`)['maxMm'], `${caseId} bleed extentMm.maxMm`) } : undefined;
      return { id: optStr(o, ['id']) ?? `b${j + 1}`, type: optStr(o, ['type']) ?? 'unknown', volumeMl, centerMm: vec3(o['centerMm'], `${caseId} bleed centerMm`), ...(diameterMm !== undefined ? { diameterMm } : {}), ...(extentMm ? { extentMm } : {}) };
    });
    const midlineShiftMm = optNum(t, ['midlineShiftMm']);
    return {
      caseId,
      dicomDir: str(c, ['dicomDir', 'dir'], caseId),
      truth: { caseId, hasHemorrhage: t['hasHemorrhage'] as boolean, bleeds, ...(midlineShiftMm !== undefined ? { midlineShiftMm } : {}) },
    };
  });
}
