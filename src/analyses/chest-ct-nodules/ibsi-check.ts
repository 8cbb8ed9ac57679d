/**
 * Development tool: the IBSI CT phantom (a real lung cancer) through the pipeline; prints the tumour finding's
 * volume against the GTV mask, the overlap, and per-slice areas (truth / found / lung mask) so a leak or a stop
 * can be seen. Reads ../shared/data.
 *
 *   node --import tsx src/analyses/chest-ct-nodules/ibsi-check.ts
 */
import { dirname, resolve } from 'node:path';
import { readNifti, createVolume, voxelVolumeMm3, resampleToGrid } from '../../imaging/index.ts';
import type { Int16Volume } from '../../imaging/index.ts';
import { paintLabels, runPipeline } from './pipeline.ts';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../../../../shared/data/radiomics-ibsi/ibsi_1_ct_radiomics_phantom/nifti');

async function main(): Promise<void> {
  const img = (await readNifti(`${ROOT}/image/phantom.nii.gz`)).volume;
  const mask = (await readNifti(`${ROOT}/mask/mask.nii.gz`)).volume;
  const vol = createVolume(Int16Array.from(img.data as ArrayLike<number>, (x) => Math.max(-32768, Math.min(32767, Math.round(x)))), img) as Int16Volume;
  process.stdout.write(`dims ${vol.dims.join('×')} spacing ${vol.spacing.map((s) => s.toFixed(2)).join(',')}\n`);
  const t0 = performance.now();
  const res = runPipeline(vol);
  process.stdout.write(`pipeline ${(performance.now() - t0).toFixed(0)} ms ${JSON.stringify(res.stepTimesMs)}\n`);
  const [nx, ny, nz] = vol.dims;
  let tv = 0;
  for (let v = 0; v < mask.data.length; v++) if ((mask.data[v] as number) > 0) tv++;
  const vv = voxelVolumeMm3(vol);
  process.stdout.write(`GTV ${(tv * vv / 1000).toFixed(1)} mL\n`);
  const lung = resampleToGrid(res.lungs.labels, vol, { interpolation: 'nearest', fill: 0 });
  for (const n of res.nodules.slice(0, 8)) {
    const lab = paintLabels(vol, [{ seg: n.seg, label: 1 }]);
    let inter = 0, found = 0;
    for (let v = 0; v < lab.data.length; v++) { if (lab.data[v]) { found++; if ((mask.data[v] as number) > 0) inter++; } }
    process.stdout.write(`p ${n.probability.toFixed(2)} ${n.stage} ${n.seg.type}${n.seg.mass ? ' (mass, beyond the lung mask)' : ''} vol ${(n.seg.volumeMm3 / 1000).toFixed(1)} mL  diam ${n.measures.axes.meanDiameterMm.toFixed(1)}  dice ${((2 * inter) / (found + tv)).toFixed(2)} src ${n.candidate.source} r ${n.candidate.radiusMm.toFixed(1)} at ${n.centerMm.map((x) => x.toFixed(0)).join(',')}\n`);
    if (inter > 0 && process.argv.includes('--slices')) {
      for (let k = 0; k < nz; k++) {
        let a = 0, b = 0, c = 0, l = 0;
        for (let v = k * nx * ny; v < (k + 1) * nx * ny; v++) {
          const t = (mask.data[v] as number) > 0;
          if (t) a++; if (lab.data[v]) b++; if (t && lab.data[v]) c++; if (t && lung.data[v]) l++;
        }
        if (a || b) process.stdout.write(`  z${k}: truth ${a} found ${b} both ${c} truth-in-lung ${l}\n`);
      }
    }
  }
}
main().catch((e: unknown) => { process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`); process.exitCode = 1; });
