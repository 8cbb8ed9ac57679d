/**
 * Generic SR content items (PS3.3 C.17.3 SR Document Content Module) as naturalized datasets: coded entries,
 * TEXT / CODE / NUM / UIDREF / CONTAINER / IMAGE / COMPOSITE / SCOORD3D items, and the template identification of
 * a container. Knows no analysis: the caller picks the concepts (src/outputs).
 */
import { formatDS } from './write.ts';
import type { DicomDataset } from './types.ts';

/** A coded entry (PS3.3 Table 8.8-1 Code Sequence Macro, basic form). */
export interface CodedEntry {
  readonly CodeValue: string;
  readonly CodingSchemeDesignator: string;
  readonly CodeMeaning: string;
}

/** LO holds 64 characters; CodeValue is SH (16). */
export function codedEntry(value: string, scheme: string, meaning: string): CodedEntry {
  return { CodeValue: value.slice(0, 16), CodingSchemeDesignator: scheme, CodeMeaning: meaning.slice(0, 64) };
}

/** A UCUM unit as a coded entry (CodingSchemeDesignator UCUM, PS3.16 CID 82 / 7181). */
export function ucum(unit: string, meaning: string): CodedEntry {
  return codedEntry(unit, 'UCUM', meaning);
}

export type RelationshipType = 'CONTAINS' | 'HAS PROPERTIES' | 'HAS OBS CONTEXT' | 'HAS ACQ CONTEXT' | 'INFERRED FROM' | 'SELECTED FROM' | 'HAS CONCEPT MOD';

export type SrItem = DicomDataset;

function withChildren(item: SrItem, children: readonly SrItem[] | undefined): SrItem {
  return children && children.length > 0 ? { ...item, ContentSequence: [...children] } : item;
}

export function textItem(rel: RelationshipType, name: CodedEntry, value: string, children?: readonly SrItem[]): SrItem {
  return withChildren({ RelationshipType: rel, ValueType: 'TEXT', ConceptNameCodeSequence: [name], TextValue: value }, children);
}

export function codeItem(rel: RelationshipType, name: CodedEntry, value: CodedEntry, children?: readonly SrItem[]): SrItem {
  return withChildren({ RelationshipType: rel, ValueType: 'CODE', ConceptNameCodeSequence: [name], ConceptCodeSequence: [value] }, children);
}

export function uidRefItem(rel: RelationshipType, name: CodedEntry, uid: string): SrItem {
  return { RelationshipType: rel, ValueType: 'UIDREF', ConceptNameCodeSequence: [name], UID: uid };
}

/** NUM with one measured value (DS: at most 16 characters) in a unit (PS3.3 C.18.1 Numeric Measurement Macro). */
export function numItem(rel: RelationshipType, name: CodedEntry, value: number, unit: CodedEntry, children?: readonly SrItem[]): SrItem {
  return withChildren({
    RelationshipType: rel, ValueType: 'NUM', ConceptNameCodeSequence: [name],
    MeasuredValueSequence: [{ NumericValue: formatDS(value), MeasurementUnitsCodeSequence: [unit] }],
  }, children);
}

export function containerItem(rel: RelationshipType | undefined, name: CodedEntry, children: readonly SrItem[], template?: string): SrItem {
  return {
    ...(rel ? { RelationshipType: rel } : {}),
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [name],
    ContinuityOfContent: 'SEPARATE',
    ...(template ? contentTemplate(template) : {}),
    // ContentSequence is Type 1C (PS3.3 C.17.3.2.4): present only when the item has children.
    ...(children.length > 0 ? { ContentSequence: [...children] } : {}),
  };
}

/** ContentTemplateSequence of a DCMR template (PS3.3 C.18.8.1.1; DCMR mapping resource UID 1.2.840.10008.8.1.1). */
export function contentTemplate(templateId: string): DicomDataset {
  return { ContentTemplateSequence: [{ MappingResource: 'DCMR', MappingResourceUID: '1.2.840.10008.8.1.1', TemplateIdentifier: templateId }] };
}

export interface SopReference {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  /** ReferencedSegmentNumber (a SEG segment, PS3.3 C.18.3.1). */
  readonly segmentNumbers?: readonly number[];
  /** ReferencedFrameNumber (1-based). */
  readonly frameNumbers?: readonly number[];
}

function sopSequence(ref: SopReference): DicomDataset {
  return {
    ReferencedSOPClassUID: ref.sopClassUid,
    ReferencedSOPInstanceUID: ref.sopInstanceUid,
    ...(ref.frameNumbers && ref.frameNumbers.length > 0 ? { ReferencedFrameNumber: [...ref.frameNumbers] } : {}),
    ...(ref.segmentNumbers && ref.segmentNumbers.length > 0 ? { ReferencedSegmentNumber: [...ref.segmentNumbers] } : {}),
  };
}

export function imageItem(rel: RelationshipType, name: CodedEntry, ref: SopReference): SrItem {
  return { RelationshipType: rel, ValueType: 'IMAGE', ConceptNameCodeSequence: [name], ReferencedSOPSequence: [sopSequence(ref)] };
}

export function compositeItem(rel: RelationshipType, name: CodedEntry, ref: SopReference): SrItem {
  return { RelationshipType: rel, ValueType: 'COMPOSITE', ConceptNameCodeSequence: [name], ReferencedSOPSequence: [sopSequence(ref)] };
}

/**
 * SCOORD3D (PS3.3 C.18.9): points in the patient coordinate system of a Frame of Reference, mm. GraphicData is FL;
 * POINT takes one (x, y, z) triplet.
 */
export function scoord3dItem(rel: RelationshipType, name: CodedEntry, graphicType: 'POINT' | 'MULTIPOINT' | 'POLYLINE' | 'POLYGON' | 'ELLIPSE' | 'ELLIPSOID', points: readonly (readonly [number, number, number])[], frameOfReferenceUid: string): SrItem {
  return {
    RelationshipType: rel, ValueType: 'SCOORD3D', ConceptNameCodeSequence: [name],
    GraphicType: graphicType,
    GraphicData: points.flatMap((p) => [p[0], p[1], p[2]]),
    ReferencedFrameOfReferenceUID: frameOfReferenceUid,
  };
}

/** Depth-first walk over ContentSequence items (the root dataset excluded). */
export function* walkContent(root: DicomDataset): Generator<SrItem> {
  const seq = root['ContentSequence'];
  if (!Array.isArray(seq)) return;
  for (const item of seq) {
    if (item && typeof item === 'object' && !(item instanceof Uint8Array)) {
      yield item as SrItem;
      yield* walkContent(item as SrItem);
    }
  }
}

/** The CodeMeaning of an item's concept name. */
export function conceptMeaning(item: SrItem): string | undefined {
  const seq = item['ConceptNameCodeSequence'];
  const first = Array.isArray(seq) ? (seq[0] as DicomDataset | undefined) : undefined;
  const m = first?.['CodeMeaning'];
  return typeof m === 'string' ? m : undefined;
}
