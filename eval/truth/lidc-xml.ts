/**
 * LIDC-IDRI reader XML (LidcReadMessage, namespace http://www.nih.gov), as published with the collection
 * (Armato et al., Med Phys 2011). Each readingSession is one radiologist's unblinded read:
 * - unblindedReadNodule with characteristics and per-slice roi contours = a nodule ≥ 3 mm;
 * - unblindedReadNodule without characteristics whose rois hold one edgeMap point = a nodule < 3 mm
 *   (only its approximate centre is marked);
 * - nonNodule with a locus point = "not a nodule" ≥ 3 mm.
 * roi/edgeMap xCoord is the column, yCoord the row (0-based pixel indices) of the image named by
 * imageSOP_UID; inclusion FALSE marks a hole to cut out of the nodule on that slice.
 *
 * Parsing is by fast-xml-parser with numeric conversion switched off: UIDs must stay strings, and numbers
 * are parsed here so a bad one is an error, not a silent NaN.
 */
import { XMLParser } from 'fast-xml-parser';
import { SrError } from '../../src/core/index.ts';

export const LIDC_NAMESPACE = 'http://www.nih.gov';

export interface LidcCharacteristics {
  readonly subtlety?: number;
  readonly internalStructure?: number;
  /** 1–5 calcification patterns, 6 = absent. */
  readonly calcification?: number;
  readonly sphericity?: number;
  readonly margin?: number;
  readonly lobulation?: number;
  readonly spiculation?: number;
  /** 1 non-solid (ground glass) … 3 part solid … 5 solid. */
  readonly texture?: number;
  readonly malignancy?: number;
}

export interface LidcRoi {
  readonly imageZposition: number;
  readonly imageSopUid: string;
  readonly inclusion: boolean;
  /** [column, row] pixel indices. */
  readonly edgeMap: readonly (readonly [number, number])[];
}

export interface LidcReaderNodule {
  readonly noduleId: string;
  readonly characteristics: LidcCharacteristics | undefined;
  readonly rois: readonly LidcRoi[];
  /** Marked as a point: a nodule < 3 mm. */
  readonly small: boolean;
}

export interface LidcNonNodule {
  readonly nonNoduleId: string;
  readonly imageZposition: number;
  readonly imageSopUid: string;
  readonly locus: readonly [number, number];
}

export interface LidcReadingSession {
  /** Position of the session in the file (1-based): reader ids are anonymised numbers, not names. */
  readonly index: number;
  readonly radiologistId: string | undefined;
  readonly nodules: readonly LidcReaderNodule[];
  readonly nonNodules: readonly LidcNonNodule[];
}

export interface LidcReadMessage {
  readonly seriesInstanceUid: string | undefined;
  readonly studyInstanceUid: string | undefined;
  readonly sessions: readonly LidcReadingSession[];
}

type XmlNode = Record<string, unknown>;

const ARRAYS = new Set(['readingSession', 'unblindedReadNodule', 'roi', 'edgeMap', 'nonNodule', 'locus']);

function invalid(message: string, details?: Record<string, unknown>): SrError {
  return new SrError('TRUTH_INVALID', `LIDC XML: ${message}`, details ? { details } : {});
}

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') {
    const t = (v as XmlNode)['#text'];
    return t === undefined ? undefined : String(t).trim();
  }
  const s = String(v).trim();
  return s.length > 0 ? s : undefined;
}

function num(v: unknown, what: string): number {
  const s = text(v);
  const n = s === undefined ? NaN : Number(s);
  if (!Number.isFinite(n)) throw invalid(`${what} is not a number (${JSON.stringify(s)})`);
  return n;
}

function optNum(v: unknown): number | undefined {
  const s = text(v);
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function nodes(v: unknown): XmlNode[] {
  if (v === undefined || v === null) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.filter((x): x is XmlNode => typeof x === 'object' && x !== null);
}

function point(n: XmlNode, what: string): [number, number] {
  return [num(n['xCoord'], `${what} xCoord`), num(n['yCoord'], `${what} yCoord`)];
}

function parseRoi(r: XmlNode, where: string): LidcRoi {
  const sop = text(r['imageSOP_UID']);
  if (sop === undefined) throw invalid(`${where}: roi without imageSOP_UID`);
  const inc = (text(r['inclusion']) ?? 'TRUE').toUpperCase();
  if (inc !== 'TRUE' && inc !== 'FALSE') throw invalid(`${where}: inclusion must be TRUE or FALSE, got ${inc}`);
  return {
    imageZposition: num(r['imageZposition'], `${where} imageZposition`),
    imageSopUid: sop,
    inclusion: inc === 'TRUE',
    edgeMap: nodes(r['edgeMap']).map((e) => point(e, `${where} edgeMap`)),
  };
}

const CHARACTERISTICS = ['subtlety', 'internalStructure', 'calcification', 'sphericity', 'margin', 'lobulation', 'spiculation', 'texture', 'malignancy'] as const;

function parseCharacteristics(v: unknown): LidcCharacteristics | undefined {
  const c = nodes(v)[0];
  if (!c) return undefined;
  const out: Record<string, number> = {};
  for (const k of CHARACTERISTICS) {
    const n = optNum(c[k]);
    if (n !== undefined) out[k] = n;
  }
  return Object.keys(out).length > 0 ? (out as LidcCharacteristics) : undefined;
}

export function parseLidcXml(xml: string): LidcReadMessage {
  let doc: XmlNode;
  try {
    const parser = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '@_',
      removeNSPrefix: true,
      parseTagValue: false,
      parseAttributeValue: false,
      isArray: (name) => ARRAYS.has(name),
    });
    doc = parser.parse(xml, true) as XmlNode;
  } catch (e) {
    throw new SrError('TRUTH_INVALID', `LIDC XML is not well-formed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const root = nodes(doc['LidcReadMessage'])[0];
  if (!root) throw invalid('root element LidcReadMessage not found');
  const ns = root['@_xmlns'];
  if (ns !== undefined && ns !== LIDC_NAMESPACE) throw invalid(`unexpected namespace ${String(ns)}`);
  const header = nodes(root['ResponseHeader'])[0] ?? {};
  const sessions = nodes(root['readingSession']).map((s, si): LidcReadingSession => {
    const nodules = nodes(s['unblindedReadNodule']).map((n, ni): LidcReaderNodule => {
      const noduleId = text(n['noduleID']) ?? `nodule-${ni + 1}`;
      const where = `session ${si + 1} nodule ${noduleId}`;
      const rois = nodes(n['roi']).map((r) => parseRoi(r, where));
      if (rois.length === 0) throw invalid(`${where} has no roi`, { noduleId });
      const characteristics = parseCharacteristics(n['characteristics']);
      const small = characteristics === undefined && rois.every((r) => r.edgeMap.length <= 1);
      return { noduleId, characteristics, rois, small };
    });
    const nonNodules = nodes(s['nonNodule']).map((n, ni): LidcNonNodule => {
      const nonNoduleId = text(n['nonNoduleID']) ?? `non-nodule-${ni + 1}`;
      const sop = text(n['imageSOP_UID']);
      const locus = nodes(n['locus'])[0];
      if (sop === undefined || !locus) throw invalid(`session ${si + 1} non-nodule ${nonNoduleId} lacks imageSOP_UID or locus`);
      return { nonNoduleId, imageZposition: num(n['imageZposition'], `non-nodule ${nonNoduleId} imageZposition`), imageSopUid: sop, locus: point(locus, 'locus') };
    });
    return { index: si + 1, radiologistId: text(s['servicingRadiologistID']), nodules, nonNodules };
  });
  return { seriesInstanceUid: text(header['SeriesInstanceUid']), studyInstanceUid: text(header['StudyInstanceUID']), sessions };
}
