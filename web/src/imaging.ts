/**
 * Cornerstone3D set-up and the series/overlay data the viewer draws: image ids from WADO-RS series metadata
 * (frames are decoded by the server, so no codec runs in the browser), sorted along the slice normal, and the
 * AI label map (NIfTI-1 gzip attachment) as a sparse list of labelled voxels in patient (LPS) coordinates.
 */
import { init as coreInit, Enums, RenderingEngine, volumeLoader } from '@cornerstonejs/core';
import * as dil from '@cornerstonejs/dicom-image-loader';
import {
  addTool, init as toolsInit, LengthTool, utilities as toolUtilities, PanTool, StackScrollTool, ToolGroupManager, WindowLevelTool, ZoomTool, Enums as ToolEnums,
} from '@cornerstonejs/tools';

export type Vec3 = [number, number, number];

let ready: Promise<void> | undefined;
let initialized = false;

export function initImaging(): Promise<void> {
  ready ??= (async () => {
    await coreInit();
    dil.init({ maxWebWorkers: Math.max(1, Math.min(4, navigator.hardwareConcurrency || 2)) });
    toolsInit();
    for (const t of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool]) addTool(t);
    initialized = true;
  })();
  return ready;
}

export const ENGINE_ID = 'sr-engine';
let engine: RenderingEngine | undefined;
export function renderingEngine(): RenderingEngine {
  if (!initialized) throw new Error('imaging not initialised: await initImaging() first');
  if (!engine) {
    engine = new RenderingEngine(ENGINE_ID);
    // For the viewer benchmark and debugging in the browser console.
    (window as unknown as { srEngine?: RenderingEngine }).srEngine = engine;
  }
  return engine;
}

/** The engine once Cornerstone is initialised; undefined before (effects that run early do nothing). */
export function maybeEngine(): RenderingEngine | undefined {
  return initialized ? renderingEngine() : undefined;
}

/** One tool group for every viewport: left W/L (or length), middle pan, right zoom, wheel scroll. */
export function toolGroup(): NonNullable<ReturnType<typeof ToolGroupManager.getToolGroup>> {
  const existing = ToolGroupManager.getToolGroup('sr-tools');
  if (existing) return existing;
  const tg = ToolGroupManager.createToolGroup('sr-tools');
  if (!tg) throw new Error('tool group');
  for (const t of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool]) tg.addTool(t.toolName);
  tg.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
  tg.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Auxiliary }] });
  tg.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Secondary }] });
  tg.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Wheel }] });
  tg.setToolPassive(LengthTool.toolName);
  return tg;
}

export function setLengthTool(on: boolean): void {
  const tg = toolGroup();
  if (on) {
    tg.setToolPassive(WindowLevelTool.toolName);
    tg.setToolActive(LengthTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
  } else {
    tg.setToolPassive(LengthTool.toolName);
    tg.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
  }
}

/** Loads every image of the element's stack in the background (nearest first), so paging never waits. */
export function prefetchStack(element: HTMLDivElement): void {
  toolUtilities.stackPrefetch.enable(element);
}

/** Window presets (centre/width in HU) — common CT display windows (e.g. Radiopaedia "Windowing (CT)"). */
export const PRESETS = [
  { key: 'lung', center: -600, width: 1500 },
  { key: 'mediastinum', center: 40, width: 400 },
  { key: 'brain', center: 40, width: 80 },
  { key: 'bone', center: 400, width: 1800 },
  { key: 'subdural', center: 75, width: 215 },
] as const;
export type PresetKey = (typeof PRESETS)[number]['key'];

export function voiRange(p: { center: number; width: number }): { lower: number; upper: number } {
  return { lower: p.center - p.width / 2, upper: p.center + p.width / 2 };
}

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

function num(meta: DicomJson, tag: string): number[] {
  return (meta[tag]?.Value ?? []).map(Number);
}
function str(meta: DicomJson, tag: string): string {
  const v = meta[tag]?.Value?.[0];
  return v === undefined || v === null ? '' : String(v);
}

export const dot = (a: readonly number[], b: readonly number[]): number => (a[0] ?? 0) * (b[0] ?? 0) + (a[1] ?? 0) * (b[1] ?? 0) + (a[2] ?? 0) * (b[2] ?? 0);
export const cross = (a: readonly number[], b: readonly number[]): Vec3 => [
  (a[1] ?? 0) * (b[2] ?? 0) - (a[2] ?? 0) * (b[1] ?? 0), (a[2] ?? 0) * (b[0] ?? 0) - (a[0] ?? 0) * (b[2] ?? 0), (a[0] ?? 0) * (b[1] ?? 0) - (a[1] ?? 0) * (b[0] ?? 0),
];

export interface LoadedSeries {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly imageIds: string[];
  /** Slice position along the normal, per image id (same order). */
  readonly positions: number[];
  readonly normal: Vec3;
  readonly sliceSpacing: number;
  /** One image shown while the whole series' metadata loads (loadPreview); replaced by the full series. */
  readonly preview?: boolean;
}

/** Fetches the series' WADO-RS metadata, registers it with the loader, returns image ids sorted along the normal. */
export async function loadSeries(studyUid: string, seriesUid: string): Promise<LoadedSeries> {
  const base = `${location.origin}/dicom-web/studies/${studyUid}/series/${seriesUid}`;
  const res = await fetch(`${base}/metadata`, { headers: { accept: 'application/dicom+json' }, credentials: 'same-origin' });
  if (!res.ok) throw new Error(`series metadata: HTTP ${res.status}`);
  const metas = (await res.json()) as DicomJson[];
  const items = metas.map((m) => {
    const sop = str(m, '00080018');
    const imageId = `wadors:${base}/instances/${sop}/frames/1`;
    dil.wadors.metaDataManager.add(imageId, m as unknown as Parameters<typeof dil.wadors.metaDataManager.add>[1]);
    return { imageId, ipp: num(m, '00200032'), iop: num(m, '00200037'), inst: Number(str(m, '00200013') || 0) };
  });
  const iop = items[0]?.iop ?? [1, 0, 0, 0, 1, 0];
  const normal = cross(iop.slice(0, 3), iop.slice(3, 6));
  const withPos = items.map((x) => ({ ...x, pos: x.ipp.length === 3 ? dot(x.ipp, normal) : x.inst }));
  withPos.sort((a, b) => a.pos - b.pos);
  const spacing = withPos.length > 1 ? Math.abs(((withPos.at(-1)?.pos ?? 0) - (withPos[0]?.pos ?? 0)) / (withPos.length - 1)) || 1 : 1;
  return { studyInstanceUid: studyUid, seriesInstanceUid: seriesUid, imageIds: withPos.map((x) => x.imageId), positions: withPos.map((x) => x.pos), normal, sliceSpacing: spacing };
}

/**
 * The first image before the series' metadata: the series' instance list from QIDO-RS (the index database, no file
 * reads), the middle one by InstanceNumber, and that one instance's WADO-RS metadata. The whole series' metadata
 * (one file header per instance on the server: ~0.5 s for 300 slices) is fetched in parallel by loadSeries; the
 * image id is the same, so the frame loaded for the preview is reused from the cache.
 */
export async function loadPreview(studyUid: string, seriesUid: string): Promise<string | null> {
  const base = `${location.origin}/dicom-web/studies/${studyUid}/series/${seriesUid}`;
  const list = await fetch(`${base}/instances?includefield=00200013`, { headers: { accept: 'application/dicom+json' }, credentials: 'same-origin' });
  if (!list.ok) return null;
  const rows = ((await list.json()) as DicomJson[]).map((m) => ({ sop: str(m, '00080018'), inst: Number(str(m, '00200013') || 0) })).filter((x) => x.sop);
  rows.sort((a, b) => a.inst - b.inst);
  const mid = rows[Math.floor(rows.length / 2)];
  if (!mid) return null;
  const res = await fetch(`${base}/instances/${mid.sop}/metadata`, { headers: { accept: 'application/dicom+json' }, credentials: 'same-origin' });
  if (!res.ok) return null;
  const meta = ((await res.json()) as DicomJson[])[0];
  if (!meta) return null;
  const imageId = `wadors:${base}/instances/${mid.sop}/frames/1`;
  dil.wadors.metaDataManager.add(imageId, meta as unknown as Parameters<typeof dil.wadors.metaDataManager.add>[1]);
  return imageId;
}

export function nearestIndex(series: LoadedSeries, world: readonly number[]): number {
  const p = dot(world, series.normal);
  let best = 0;
  series.positions.forEach((q, i) => {
    if (Math.abs(q - p) < Math.abs((series.positions[best] ?? 0) - p)) best = i;
  });
  return best;
}

export async function createVolume(volumeId: string, imageIds: string[]): Promise<void> {
  const volume = await volumeLoader.createAndCacheVolume(volumeId, { imageIds });
  (volume as unknown as { load: () => void }).load();
}

/** Labelled voxels of a NIfTI label map, in LPS mm, with the voxel's axis vectors (for drawing its footprint). */
export interface LabelVoxels {
  readonly points: Float32Array;
  readonly labels: Uint16Array;
  readonly axes: [Vec3, Vec3, Vec3];
}

async function gunzip(buf: ArrayBuffer): Promise<ArrayBuffer> {
  const bytes = new Uint8Array(buf);
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return buf;
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Response(stream).arrayBuffer();
}

/** NIfTI-1: dim (40), datatype (70), vox_offset (108), scl (112), srow_x/y/z (280/296/312); RAS → LPS negates x, y. */
export async function loadLabelVoxels(url: string): Promise<LabelVoxels> {
  const res = await fetch(url, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`label map: HTTP ${res.status}`);
  const buf = await gunzip(await res.arrayBuffer());
  const v = new DataView(buf);
  const le = v.getInt32(0, true) === 348;
  const dim = [1, 2, 3].map((i) => v.getInt16(40 + 2 * i, le));
  const [nx = 0, ny = 0, nz = 0] = dim;
  const datatype = v.getInt16(70, le);
  const off = Math.round(v.getFloat32(108, le));
  const srow = [280, 296, 312].map((o) => [0, 1, 2, 3].map((i) => v.getFloat32(o + 4 * i, le)));
  const at = (r: number, c: number): number => srow[r]?.[c] ?? 0;
  const lps = (i: number, j: number, k: number): Vec3 => [
    -(at(0, 0) * i + at(0, 1) * j + at(0, 2) * k + at(0, 3)), -(at(1, 0) * i + at(1, 1) * j + at(1, 2) * k + at(1, 3)), at(2, 0) * i + at(2, 1) * j + at(2, 2) * k + at(2, 3),
  ];
  const read = (idx: number): number => {
    switch (datatype) {
      case 2: return v.getUint8(off + idx);
      case 256: return v.getInt8(off + idx);
      case 4: return v.getInt16(off + 2 * idx, le);
      case 512: return v.getUint16(off + 2 * idx, le);
      default: return v.getInt32(off + 4 * idx, le);
    }
  };
  const pts: number[] = [];
  const labs: number[] = [];
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    const l = read(i + nx * (j + ny * k));
    if (l > 0) {
      pts.push(...lps(i, j, k));
      labs.push(l);
    }
  }
  const o = lps(0, 0, 0);
  const axis = (p: Vec3): Vec3 => [p[0] - o[0], p[1] - o[1], p[2] - o[2]];
  return { points: Float32Array.from(pts), labels: Uint16Array.from(labs), axes: [axis(lps(1, 0, 0)), axis(lps(0, 1, 0)), axis(lps(0, 0, 1))] };
}

export { Enums };
