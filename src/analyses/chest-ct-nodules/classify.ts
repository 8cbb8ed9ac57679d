/**
 * Candidate classifier: logistic regression on standardised features (features.ts). The weights live in
 * model.ts, written by train.ts from candidates of the synthetic chest phantoms (seeds < 1000 only); the
 * probability it outputs is calibrated on those candidates (logistic regression is calibrated in-sample by
 * construction), so a FROC can sweep it.
 */
import { SrError } from '../../core/errors.ts';
import { FEATURE_NAMES } from './features.ts';
import { NODULE_MODEL } from './model.ts';
import type { CandidateModel, LogisticModel } from './logistic-model.ts';
import { sigmoid, treeProbability } from './boosted-trees.ts';

export { sigmoid } from './boosted-trees.ts';

export type { CandidateModel, LogisticModel } from './logistic-model.ts';


export function logit(model: LogisticModel, x: readonly number[]): number {
  let z = model.bias;
  for (let f = 0; f < model.weights.length; f++) {
    const sd = (model.sd[f] as number) || 1;
    z += (model.weights[f] as number) * (((x[f] as number) - (model.mean[f] as number)) / sd);
  }
  return z;
}

/** Probability of either model family. */
export function modelProbability(model: CandidateModel, x: readonly number[]): number {
  return model.kind === 'trees' ? treeProbability(model, x) : sigmoid(logit(model, x));
}

export function noduleProbability(x: readonly number[], model: CandidateModel = NODULE_MODEL): number {
  if (model.features.length !== FEATURE_NAMES.length || model.features.some((f, i) => f !== FEATURE_NAMES[i])) {
    throw new SrError('ANALYSIS_FAILED', 'nodule model features do not match FEATURE_NAMES; retrain with train.ts');
  }
  return modelProbability(model, x);
}

/** Fits a logistic regression with L2 penalty by full-batch Newton steps (IRLS); features standardised first. */
export function fitLogistic(X: readonly (readonly number[])[], y: readonly number[], opts: { l2?: number; iterations?: number; weightPositive?: number } = {}): Omit<LogisticModel, 'features' | 'provenance'> {
  const n = X.length;
  const p = (X[0] ?? []).length;
  const mean = new Array<number>(p).fill(0), sd = new Array<number>(p).fill(0);
  for (const row of X) for (let f = 0; f < p; f++) mean[f] = (mean[f] as number) + (row[f] as number) / n;
  for (const row of X) for (let f = 0; f < p; f++) sd[f] = (sd[f] as number) + ((row[f] as number) - (mean[f] as number)) ** 2 / n;
  for (let f = 0; f < p; f++) sd[f] = Math.sqrt(sd[f] as number) || 1;
  const Z = X.map((row) => [1, ...row.map((x, f) => (x - (mean[f] as number)) / (sd[f] as number))]);
  const q = p + 1;
  const w = new Array<number>(q).fill(0);
  const l2 = opts.l2 ?? 1;
  const wPos = opts.weightPositive ?? 1;
  for (let it = 0; it < (opts.iterations ?? 30); it++) {
    const g = new Array<number>(q).fill(0);
    const H = Array.from({ length: q }, () => new Array<number>(q).fill(0));
    for (let r = 0; r < n; r++) {
      const z = Z[r] as number[];
      let s = 0;
      for (let a = 0; a < q; a++) s += (w[a] as number) * (z[a] as number);
      const pr = sigmoid(s);
      const cw = (y[r] as number) === 1 ? wPos : 1;
      const err = cw * (pr - (y[r] as number));
      const wt = cw * pr * (1 - pr);
      for (let a = 0; a < q; a++) {
        g[a] = (g[a] as number) + err * (z[a] as number);
        const Ha = H[a] as number[];
        for (let b = 0; b <= a; b++) Ha[b] = (Ha[b] as number) + wt * (z[a] as number) * (z[b] as number);
      }
    }
    for (let a = 1; a < q; a++) {
      g[a] = (g[a] as number) + l2 * (w[a] as number);
      (H[a] as number[])[a] = ((H[a] as number[])[a] as number) + l2;
    }
    for (let a = 0; a < q; a++) for (let b = a + 1; b < q; b++) (H[a] as number[])[b] = (H[b] as number[])[a] as number;
    const step = solve(H, g);
    let maxStep = 0;
    for (let a = 0; a < q; a++) {
      w[a] = (w[a] as number) - (step[a] as number);
      maxStep = Math.max(maxStep, Math.abs(step[a] as number));
    }
    if (maxStep < 1e-8) break;
  }
  return { mean, sd, weights: w.slice(1), bias: w[0] as number };
}

/** Gaussian elimination with partial pivoting (small dense systems). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i] as number]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs((M[r] as number[])[c] as number) > Math.abs((M[piv] as number[])[c] as number)) piv = r;
    [M[c], M[piv]] = [M[piv] as number[], M[c] as number[]];
    const mc = M[c] as number[];
    const d = (mc[c] as number) || 1e-12;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const mr = M[r] as number[];
      const f = (mr[c] as number) / d;
      if (f === 0) continue;
      for (let k = c; k <= n; k++) mr[k] = (mr[k] as number) - f * (mc[k] as number);
    }
  }
  return M.map((row, i) => (row[n] as number) / ((row[i] as number) || 1e-12));
}
