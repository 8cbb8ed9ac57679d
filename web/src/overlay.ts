/**
 * The AI overlay, drawn on a 2D canvas above a viewport: label-map voxels that cut the current plane (filled,
 * one colour per label), finding markers (circle + id), and the head analysis' midline landmarks (ideal midline
 * and the septum's displacement). Works for stack and volume (MPR) viewports alike: everything is placed with
 * the viewport's own worldToCanvas.
 */
import { dot } from './imaging.ts';
import type { LabelVoxels, Vec3 } from './imaging.ts';

export interface OverlayViewport {
  getCamera(): { focalPoint?: readonly number[]; viewPlaneNormal?: readonly number[]; viewUp?: readonly number[] };
  worldToCanvas(p: Vec3): readonly number[];
}

export interface OverlayFinding { id: string; centerMm: readonly number[]; selected: boolean; decision: string | null }
export interface Midline { anterior: Vec3 | null; posterior: Vec3 | null; septum: Vec3 | null; septumIdeal: Vec3 | null; shiftMm: number | null }

export interface OverlayInput {
  readonly voxels: readonly LabelVoxels[];
  readonly findings: readonly OverlayFinding[];
  readonly midline: Midline | null;
  readonly slab: number;
  readonly showMask: boolean;
}

/** Overlay fill colour: magenta, never a grey level, so it is always told apart from the image (and by tests). */
export const MASK_RGB = [255, 0, 200] as const;

export function drawOverlay(canvas: HTMLCanvasElement, vp: OverlayViewport, o: OverlayInput): void {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const cam = vp.getCamera();
  const fp = cam.focalPoint ?? [0, 0, 0];
  const n = cam.viewPlaneNormal ?? [0, 0, 1];
  const up = cam.viewUp ?? [0, -1, 0];
  const right: Vec3 = [up[1]! * n[2]! - up[2]! * n[1]!, up[2]! * n[0]! - up[0]! * n[2]!, up[0]! * n[1]! - up[1]! * n[0]!];
  const dist = (p: readonly number[]): number => dot([p[0]! - fp[0]!, p[1]! - fp[1]!, p[2]! - fp[2]!], n);
  const toCanvas = (p: readonly number[]): [number, number] => {
    const c = vp.worldToCanvas([p[0]!, p[1]!, p[2]!]);
    return [c[0] ?? 0, c[1] ?? 0];
  };
  const o0 = toCanvas(fp);
  const o1 = toCanvas([fp[0]! + right[0], fp[1]! + right[1], fp[2]! + right[2]]);
  const pxPerMm = Math.hypot(o1[0] - o0[0], o1[1] - o0[1]) || 1;

  if (o.showMask) {
    ctx.fillStyle = `rgba(${MASK_RGB.join(',')},0.45)`;
    for (const lv of o.voxels) {
      const [a, b, c] = lv.axes;
      const thick = Math.abs(dot(a, n)) + Math.abs(dot(b, n)) + Math.abs(dot(c, n));
      const half = Math.max(thick, 0.5) / 2;
      const vw = (Math.abs(dot(a, right)) + Math.abs(dot(b, right)) + Math.abs(dot(c, right))) * pxPerMm;
      const vh = (Math.abs(dot(a, up)) + Math.abs(dot(b, up)) + Math.abs(dot(c, up))) * pxPerMm;
      for (let i = 0; i < lv.labels.length; i++) {
        const p = [lv.points[3 * i]!, lv.points[3 * i + 1]!, lv.points[3 * i + 2]!];
        if (Math.abs(dist(p)) > half) continue;
        const [x, y] = toCanvas(p);
        ctx.fillRect(x - vw / 2, y - vh / 2, Math.max(vw, 1), Math.max(vh, 1));
      }
    }
  }
  ctx.lineWidth = 2;
  ctx.font = '12px system-ui, sans-serif';
  for (const f of o.findings) {
    const d = Math.abs(dist(f.centerMm));
    if (d > o.slab * 4) continue;
    const [x, y] = toCanvas(f.centerMm);
    const color = f.decision === 'reject' ? '#888' : f.decision ? '#3c3' : '#ffd400';
    ctx.strokeStyle = color;
    ctx.globalAlpha = d <= o.slab ? 1 : 0.45;
    ctx.beginPath();
    ctx.arc(x, y, Math.max(10, 8 * pxPerMm), 0, 2 * Math.PI);
    if (f.selected) ctx.setLineDash([]);
    else ctx.setLineDash([4, 3]);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = color;
    ctx.fillText(f.id, x + Math.max(12, 8 * pxPerMm), y - 6);
    ctx.globalAlpha = 1;
  }
  // Midline landmarks are axial measurements: drawn on axial views within 20 mm of the septum's level.
  const m = o.midline;
  const axial = Math.abs(n[2] ?? 0) > 0.8;
  if (m && axial && (!m.septum || Math.abs(dist(m.septum)) <= 20)) {
    if (m.anterior && m.posterior) {
      ctx.strokeStyle = '#00e5ff';
      ctx.setLineDash([6, 4]);
      const [ax, ay] = toCanvas(m.anterior);
      const [px, py] = toCanvas(m.posterior);
      ctx.beginPath();
      ctx.moveTo(ax, ay);
      ctx.lineTo(px, py);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (m.septum && m.septumIdeal) {
      const [sx, sy] = toCanvas(m.septum);
      const [ix, iy] = toCanvas(m.septumIdeal);
      ctx.strokeStyle = '#ff8c00';
      ctx.beginPath();
      ctx.moveTo(ix, iy);
      ctx.lineTo(sx, sy);
      ctx.stroke();
      ctx.beginPath();
      ctx.arc(sx, sy, 3, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.fillStyle = '#ff8c00';
      if (m.shiftMm !== null) ctx.fillText(`MLS ${m.shiftMm.toFixed(1)} mm`, sx + 8, sy + 14);
    }
  }
}
