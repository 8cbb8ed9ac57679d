/**
 * The research export: POST /api/v1/research/exports with study UIDs answers, synchronously and without a job,
 * one ZIP (application/zip, streamed while it is built) of the studies' instances de-identified per PS3.15 Annex E
 * Basic Profile (src/deid) — laid out as <new StudyInstanceUID>/<new SeriesInstanceUID>/<new SOPInstanceUID>.dcm
 * with a manifest.json last. Pseudonyms, UIDs and date shifts are keyed by the site secret kept in the index
 * database, so repeated exports of a patient link up for the researcher without revealing who it is.
 * Open to researchers and admins, and NOT marked patientData: nothing identifying leaves through it. Instances the
 * de-identifier refuses (burned-in annotation, unreadable) are left out and counted by error code in the manifest,
 * without their identifiers. Each export is recorded in the audit trail with the original study UIDs.
 */
import { Readable } from 'node:stream';
import { GENERATOR, isSrError, SrError } from '../core/index.ts';
import { createDeidentifier, DEID_METHOD_CODES, zipStream } from '../deid/index.ts';
import type { ZipEntry } from '../deid/index.ts';
import type { Archive, InstanceRecord } from '../archive/index.ts';
import { requestUser } from './auth/context.ts';
import type { RouteAccess } from './auth/context.ts';
import { auditTrailOf } from './routes-audit.ts';
import { obj } from './route-def.ts';
import type { RouteDef } from './route-def.ts';
import { errors, UID } from './schemas.ts';

const RESEARCH: RouteAccess = { roles: ['researcher', 'admin'] };
/** One request's bound: a larger export is several requests (the ZIP has no ZIP64 either, src/deid/zip.ts). */
export const MAX_EXPORT_STUDIES = 50;

interface ExportBody {
  readonly studyInstanceUids: string[];
  readonly retainModifiedDates?: boolean;
  readonly retainPatientCharacteristics?: boolean;
}

async function* entries(archive: Archive, instances: readonly InstanceRecord[], body: ExportBody, secret: Buffer): AsyncGenerator<ZipEntry> {
  const d = createDeidentifier({
    secret, retainModifiedDates: body.retainModifiedDates === true, retainPatientCharacteristics: body.retainPatientCharacteristics === true,
  });
  let written = 0;
  const refused: Record<string, number> = {};
  const studies = new Set<string>();
  for (const inst of instances) {
    try {
      const r = d.deidentify(await archive.readInstance(inst.sopInstanceUid), `instance ${written + 1}`);
      studies.add(r.studyInstanceUid);
      written++;
      yield { name: `${r.studyInstanceUid}/${r.seriesInstanceUid}/${r.sopInstanceUid}.dcm`, data: r.bytes };
    } catch (e) {
      const code = isSrError(e) ? e.code : 'DEID_FAILED';
      refused[code] = (refused[code] ?? 0) + 1;
    }
  }
  const methods = [DEID_METHOD_CODES.basic, ...(body.retainModifiedDates ? [DEID_METHOD_CODES.modifiedDates] : []), ...(body.retainPatientCharacteristics ? [DEID_METHOD_CODES.patientCharacteristics] : [])];
  const manifest = {
    generator: `${GENERATOR.name} ${GENERATOR.version}`,
    deidentification: methods.map((m) => ({ codeValue: m.value, codingSchemeDesignator: 'DCM', codeMeaning: m.meaning })),
    studies: [...studies].sort(),
    instancesWritten: written,
    instancesRefused: refused,
  };
  yield { name: 'manifest.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) };
}

export const RESEARCH_ROUTES: readonly RouteDef[] = [
  {
    method: 'POST', url: '/research/exports', operationId: 'createResearchExport', tag: 'research', access: RESEARCH,
    summary: 'De-identified copies (PS3.15 Basic Profile, optional date-shift and patient-characteristics options) of whole studies, as one streamed ZIP.',
    schema: {
      body: obj({
        studyInstanceUids: { type: 'array', items: UID, minItems: 1, maxItems: MAX_EXPORT_STUDIES, uniqueItems: true },
        retainModifiedDates: { type: 'boolean' },
        retainPatientCharacteristics: { type: 'boolean' },
      }, ['studyInstanceUids']),
      response: errors(400, 401, 403, 404),
    },
    produces: { 'application/zip': { type: 'string', format: 'binary' } },
    handler: (d) => async (req, reply) => {
      const body = req.body as ExportBody;
      const trail = auditTrailOf(d);
      const instances: InstanceRecord[] = [];
      for (const uid of body.studyInstanceUids) {
        const found = await d.archive.listInstances({ studyInstanceUid: uid });
        if (found.length === 0) throw new SrError('NOT_FOUND', `study ${uid} is not in the archive`, { details: { studyInstanceUid: uid } });
        instances.push(...found);
      }
      const user = requestUser(req);
      await trail.record({
        action: 'export', outcome: 'success', actor: user?.username ?? null, actorRole: user?.role ?? null, source: req.ip,
        object: `research export of ${body.studyInstanceUids.length} stud${body.studyInstanceUids.length === 1 ? 'y' : 'ies'}`,
        details: { studyInstanceUids: body.studyInstanceUids, instances: instances.length, retainModifiedDates: body.retainModifiedDates === true, retainPatientCharacteristics: body.retainPatientCharacteristics === true },
      });
      const secret = await trail.deidSecret();
      return reply
        .type('application/zip')
        .header('content-disposition', 'attachment; filename="research-export.zip"')
        .send(Readable.from(zipStream(entries(d.archive, instances, body, secret))));
    },
  },
];
