/**
 * findings.json: the public output contract of `analyze` (docs/findings.schema.json). Types mirror the schema;
 * the schema is the authority, and every document is validated against it before it is written.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { SrError, writeFileAtomic } from '../core/index.ts';

export const FINDINGS_SCHEMA_VERSION = 1;
export const FINDINGS_FILE_NAME = 'findings.json';

export type ResultStatus = 'ok' | 'skipped' | 'failed';

export interface ErrorJson {
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

export interface SeriesSummaryJson {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly modality: string;
  readonly seriesDescription?: string;
  readonly instanceCount: number;
}

export interface TimingsJson {
  accept?: number;
  load?: number;
  run?: number;
  total: number;
  steps?: Record<string, number>;
}

export interface ProvenanceJson {
  readonly analysis: { readonly id: string; readonly version: string; readonly apiVersion: number };
  readonly engine: { readonly name: string; readonly version: string };
  readonly inputSeriesInstanceUid: string;
  readonly startedAt: string;
  readonly timingsMs: TimingsJson;
  readonly volumeNotes?: readonly string[];
}

/**
 * A finding shown because of a prior study rather than its own probability: a follow-up comparison paired a
 * sub-threshold candidate with a reported finding of the other scan (`priorGuided: true` and a follow-up status;
 * chest-ct-nodules followup.ts). Every display that lists reported findings (SR, clinical report) includes it, as
 * the analysis counts it and gives it to Lung-RADS. A 'resolved' placeholder is not a finding of this scan.
 */
export function shownByFollowUp(f: { readonly [key: string]: unknown }): boolean {
  return f['priorGuided'] === true && typeof f['status'] === 'string' && f['status'] !== 'resolved';
}

export interface FindingJson {
  readonly id: string;
  readonly kind: string;
  readonly centerMm: readonly [number, number, number];
  readonly probability: number;
  readonly label?: number;
  readonly reasons?: readonly string[];
  readonly [extra: string]: unknown;
}

export interface LabelMapJson {
  /** Relative to the folder of findings.json. */
  readonly path: string;
  readonly format: 'nifti-1+gzip';
  readonly labels: Readonly<Record<string, string>>;
  /** Finding id → PNG key image (axial slice through its centre, label overlaid), relative like `path`. */
  readonly keyImages?: Readonly<Record<string, string>>;
}

export interface AnalysisResultJson {
  readonly analysis: string;
  readonly version: string;
  readonly title?: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly status: ResultStatus;
  readonly reason?: string;
  readonly findings: readonly FindingJson[];
  readonly measurements: Readonly<Record<string, unknown>>;
  readonly labelMap?: LabelMapJson;
  readonly error?: ErrorJson;
  readonly provenance: ProvenanceJson;
}

export interface RunErrorJson {
  readonly code: string;
  readonly message: string;
  readonly analysis: string;
  readonly seriesInstanceUid: string;
}

export interface FindingsDocument {
  readonly schemaVersion: typeof FINDINGS_SCHEMA_VERSION;
  readonly generator: { readonly name: string; readonly version: string };
  readonly disclaimer: string;
  readonly createdAt: string;
  readonly series: readonly SeriesSummaryJson[];
  readonly analyses: readonly AnalysisResultJson[];
  readonly errors: readonly RunErrorJson[];
}

const SCHEMA_URL = new URL('../../docs/findings.schema.json', import.meta.url);

interface Validators {
  readonly document: ValidateFunction;
  readonly result: ValidateFunction;
}

let validators: Validators | undefined;

function getValidators(): Validators {
  if (validators) return validators;
  let schema: { $id: string };
  try {
    schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as { $id: string };
  } catch (e) {
    throw new SrError('CONFIG_INVALID', `cannot read the findings schema at ${SCHEMA_URL.pathname}`, { cause: e });
  }
  // strict: an unknown keyword in our own schema is a bug in the schema, not something to ignore. strictRequired
  // is off because `if/then` branches require properties declared at the top level of the same object.
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  ajv.addSchema(schema);
  const document = ajv.getSchema(schema.$id);
  const result = ajv.getSchema(`${schema.$id}#/$defs/analysisResult`);
  if (!document || !result) throw new SrError('CONFIG_INVALID', 'findings schema lacks its root or #/$defs/analysisResult');
  validators = { document, result };
  return validators;
}

function describe(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).slice(0, 20).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/**
 * The JSON value that will actually be written: NaN/Infinity become null, typed arrays become objects, undefined
 * fields vanish. Validate this, not the in-memory object, or the check would pass on what is never written.
 */
export function toJsonValue(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}

/** Problems of a whole findings document against the schema; empty when valid. */
export function findingsDocumentProblems(doc: unknown): string[] {
  const v = getValidators().document;
  return v(toJsonValue(doc)) ? [] : describe(v.errors);
}

/** Problems of one analysis result against `#/$defs/analysisResult`; empty when valid. */
export function analysisResultProblems(result: unknown): string[] {
  const v = getValidators().result;
  return v(toJsonValue(result)) ? [] : describe(v.errors);
}

/** Throws OUTPUT_INVALID with the schema errors in `details.problems`. */
export function assertValidFindingsDocument(doc: unknown): asserts doc is FindingsDocument {
  const problems = findingsDocumentProblems(doc);
  if (problems.length > 0) {
    throw new SrError('OUTPUT_INVALID', `findings document does not match docs/findings.schema.json: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
}

/** Validates (OUTPUT_INVALID) then writes `findings.json` atomically. Returns the path written. */
export async function writeFindingsFile(path: string, doc: FindingsDocument): Promise<string> {
  assertValidFindingsDocument(doc);
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, JSON.stringify(doc, null, 2) + '\n');
  return path;
}
