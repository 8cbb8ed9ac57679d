import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fillContour, regionAxes } from './contour.ts';
import { parseLidcXml } from './lidc-xml.ts';
import { lidcTruth } from './lidc-truth.ts';
import { readSliceGeometries, pixelToLps, type SliceGeometry } from './slice-geometry.ts';

const LIDC_ROOT = new URL('../../../shared/data/chest-ct-lidc/LIDC-IDRI-0003/', import.meta.url).pathname;

function seriesDir(): string {
  const study = readdirSync(LIDC_ROOT).find((n) => n.startsWith('1.')) as string;
  const series = readdirSync(join(LIDC_ROOT, study)).find((n) => n.startsWith('1.')) as string;
  return join(LIDC_ROOT, study, series);
}

test('fillContour includes the outline; interiorOnly drops it', () => {
  // 5×5 square outline given by its corners: 25 pixels with the outline, 9 inside.
  const sq: [number, number][] = [[0, 0], [4, 0], [4, 4], [0, 4]];
  assert.equal(fillContour(sq).length, 25);
  assert.equal(fillContour(sq, true).length, 9);
  assert.equal(fillContour([[3, 3]]).length, 1);
});

test('regionAxes: long and short axis of a rectangle', () => {
  const pts: [number, number][] = [];
  for (let x = 0; x <= 10; x++) for (let y = 0; y <= 4; y++) pts.push([x, y]);
  const a = regionAxes(pts, 1);
  assert.ok(Math.abs(a.longMm - Math.hypot(10, 4)) < 1e-9);
  assert.ok(a.shortMm > 3 && a.shortMm < 5, `short ${a.shortMm}`);
});

const SYNTH = `<?xml version="1.0"?>
<LidcReadMessage xmlns="http://www.nih.gov"><ResponseHeader><SeriesInstanceUid>9.9</SeriesInstanceUid></ResponseHeader>
<readingSession><servicingRadiologistID>r1</servicingRadiologistID>
  <unblindedReadNodule><noduleID>big</noduleID><characteristics><calcification>6</calcification><texture>5</texture><malignancy>4</malignancy></characteristics>
    <roi><imageZposition>0</imageZposition><imageSOP_UID>1.1</imageSOP_UID><inclusion>TRUE</inclusion>
      <edgeMap><xCoord>10</xCoord><yCoord>10</yCoord></edgeMap><edgeMap><xCoord>20</xCoord><yCoord>10</yCoord></edgeMap>
      <edgeMap><xCoord>20</xCoord><yCoord>20</yCoord></edgeMap><edgeMap><xCoord>10</xCoord><yCoord>20</yCoord></edgeMap></roi>
    <roi><imageZposition>0</imageZposition><imageSOP_UID>1.1</imageSOP_UID><inclusion>FALSE</inclusion>
      <edgeMap><xCoord>14</xCoord><yCoord>14</yCoord></edgeMap><edgeMap><xCoord>16</xCoord><yCoord>14</yCoord></edgeMap>
      <edgeMap><xCoord>16</xCoord><yCoord>16</yCoord></edgeMap><edgeMap><xCoord>14</xCoord><yCoord>16</yCoord></edgeMap></roi>
  </unblindedReadNodule>
  <unblindedReadNodule><noduleID>tiny</noduleID><roi><imageZposition>1</imageZposition><imageSOP_UID>1.2</imageSOP_UID><inclusion>TRUE</inclusion>
    <edgeMap><xCoord>50</xCoord><yCoord>60</yCoord></edgeMap></roi></unblindedReadNodule>
  <unblindedReadNodule><noduleID>away</noduleID><characteristics><texture>1</texture></characteristics>
    <roi><imageZposition>-80</imageZposition><imageSOP_UID>7.7</imageSOP_UID><inclusion>TRUE</inclusion>
    <edgeMap><xCoord>1</xCoord><yCoord>1</yCoord></edgeMap><edgeMap><xCoord>5</xCoord><yCoord>5</yCoord></edgeMap></roi></unblindedReadNodule>
  <nonNodule><nonNoduleID>nn</nonNoduleID><imageZposition>0</imageZposition><imageSOP_UID>1.1</imageSOP_UID><locus><xCoord>100</xCoord><yCoord>100</yCoord></locus></nonNodule>
</readingSession>
<readingSession><servicingRadiologistID>r2</servicingRadiologistID>
  <unblindedReadNodule><noduleID>big2</noduleID><characteristics><calcification>6</calcification><texture>4</texture></characteristics>
    <roi><imageZposition>1</imageZposition><imageSOP_UID>1.2</imageSOP_UID><inclusion>TRUE</inclusion>
      <edgeMap><xCoord>11</xCoord><yCoord>11</yCoord></edgeMap><edgeMap><xCoord>19</xCoord><yCoord>11</yCoord></edgeMap>
      <edgeMap><xCoord>19</xCoord><yCoord>19</yCoord></edgeMap><edgeMap><xCoord>11</xCoord><yCoord>19</yCoord></edgeMap></roi>
  </unblindedReadNodule>
</readingSession></LidcReadMessage>`;

const geom = (sop: string, z: number): SliceGeometry => ({
  sopInstanceUid: sop, seriesInstanceUid: '9.9', imagePositionPatient: [-100, -50, z], imageOrientationPatient: [1, 0, 0, 0, 1, 0], pixelSpacing: [0.5, 0.5],
});

test('synthetic LIDC XML: holes, small nodules, non-nodules, marks outside the series, grouping', () => {
  const msg = parseLidcXml(SYNTH);
  assert.equal(msg.sessions.length, 2);
  assert.equal(msg.sessions[0]?.nodules[1]?.small, true);
  assert.equal(msg.sessions[0]?.nodules[0]?.rois[1]?.inclusion, false);
  const t = lidcTruth(msg, [geom('1.1', 0), geom('1.2', 1)], { caseId: 'S', minReaders: 2 });
  assert.equal(t.sliceSpacingMm, 1);
  assert.equal(t.nodules.length, 1);
  const n = t.nodules[0]!;
  assert.equal(n.readers, 2);
  assert.equal(n.relevant, true);
  assert.equal(n.type, 'solid');
  // reader 1: 11×11 filled minus the 1×1 hole interior = 120 px; reader 2: 9×9 = 81 px; 0.25 mm² each, 1 mm slices
  assert.deepEqual(n.marks.map((m) => m.volumeMm3), [30, 20.25]);
  assert.ok(Math.abs(n.volumeMm3 - 25.125) < 1e-9);
  // both centred on pixel (15, 15) → LPS (-92.5, -42.5), z 0 and 1
  assert.deepEqual(n.centerMm.map((v) => Number(v.toFixed(6))), [-92.5, -42.5, 0.5]);
  assert.equal(t.irrelevantPoints.length, 2);
  assert.deepEqual(t.irrelevantPoints.map((p) => p.relevant), [false, false]);
  assert.deepEqual(t.irrelevantPoints[0]?.centerMm, [-75, -20, 1]);
  assert.ok(t.notes.some((s) => s.includes('away') && s.includes('outside')));
  // with LUNA16's 3 readers the 2-reader nodule is irrelevant
  assert.equal(lidcTruth(msg, [geom('1.1', 0), geom('1.2', 1)], { caseId: 'S' }).nodules[0]?.relevant, false);
});

test('malformed XML and wrong root are TRUTH_INVALID', () => {
  const isTruth = (e: unknown) => (e as { code?: string }).code === 'TRUTH_INVALID';
  assert.throws(() => parseLidcXml('<LidcReadMessage><readingSession>'), isTruth);
  assert.throws(() => parseLidcXml('<IdriReadMessage/>'), isTruth);
  assert.throws(() => parseLidcXml(SYNTH.replace('<imageZposition>0</imageZposition>', '<imageZposition>abc</imageZposition>')), isTruth);
});

test('LIDC-IDRI-0003: the nodule at z −199..−184 is one 4-reader consensus nodule', async () => {
  const dir = seriesDir();
  const xml = readdirSync(dir).find((n) => n.endsWith('.xml')) as string;
  const slices = await readSliceGeometries(dir);
  assert.equal(slices.length, 11);
  const t = lidcTruth(parseLidcXml(readFileSync(join(dir, xml), 'utf8')), slices, { caseId: 'LIDC-IDRI-0003' });
  assert.equal(t.sliceSpacingMm, 2.5);
  const inside = t.nodules.filter((n) => n.coverage === 'full');
  assert.equal(inside.length, 1);
  const n = inside[0]!;
  assert.equal(n.readers, 4);
  assert.equal(n.relevant, true);
  assert.deepEqual([...n.malignancy].sort(), [3, 4, 5, 5]);
  assert.ok(n.centerMm[2] > -199 && n.centerMm[2] < -184, `z ${n.centerMm[2]}`);
  // every reader's centre within a few mm of the consensus, and the consensus diameter a plausible ~2 cm mass
  for (const m of n.marks) assert.ok(Math.hypot(...(m.centerMm as number[]).map((v, i) => v - (n.centerMm[i] as number))) < 3);
  assert.ok(n.diameterMm > 18 && n.diameterMm < 30, `diameter ${n.diameterMm}`);
  assert.ok(n.meanAxisDiameterMm >= n.diameterMm * 0.9, `axes ${n.meanAxisDiameterMm}`);
  // the other nodules (z −176.5..−159 and −224..−206.5) lie outside the 11 slices: excluded with notes
  assert.equal(t.notes.filter((s) => / nodule .* outside the series/.test(s)).length, 9);
  // pixel → LPS uses PixelSpacing per axis and the slice origin
  const g = slices[0]!;
  const p = pixelToLps(g, 10, 20);
  assert.ok(Math.abs(p[0] - (g.imagePositionPatient[0] + 10 * g.pixelSpacing[1])) < 1e-9);
  assert.ok(Math.abs(p[1] - (g.imagePositionPatient[1] + 20 * g.pixelSpacing[0])) < 1e-9);
});
