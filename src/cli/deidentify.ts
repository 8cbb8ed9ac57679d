/** `secondreader deidentify <in...> --out DIR`: PS3.15 Basic Profile de-identification of files and folders (src/deid). */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SrError } from '../core/index.ts';
import { createDeidentifier, deidentifyFolder } from '../deid/index.ts';
import { openAuditDb, siteSecret } from '../server/audit/index.ts';
import { INDEX_OPTIONS, indexLocation } from './audit.ts';
import { flag, parse, stringOpt } from './args.ts';
import type { CliDeps } from './io.ts';

export const DEIDENTIFY_HELP = `Usage: secondreader deidentify <file-or-folder...> --out DIR [options]

De-identifies DICOM files per DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile:
identifying attributes removed, emptied or replaced, private attributes removed, UIDs replaced consistently
(references between instances stay intact), one pseudonym per patient (HMAC-SHA256 of PatientID with the
site secret), pixel data copied unchanged. Instances marked BurnedInAnnotation=YES are refused (their pixels
may show names). Output: DIR/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm (new UIDs).
See docs/deidentification.md.

Options:
      --out DIR                        output folder (required)
      --secret-file F                  the site secret (≥ 16 bytes); or SECONDREADER_DEID_SECRET_FILE
      --data DIR | --postgres URL      use the server's site secret instead (the same pseudonyms as its
                                       research export); --schema S with --postgres
      --keep-dates-shifted             Retain Longitudinal Temporal Information With Modified Dates Option
      --keep-patient-characteristics   Retain Patient Characteristics Option (sex, age, size, weight...)
      --allow-burned-in                also de-identify BurnedInAnnotation=YES instances (pixels checked by you)
  -h, --help                           show this help
Exit codes: 0 every DICOM file de-identified, 1 some refused or failed (listed), 2 bad usage.`;

async function readSecret(path: string): Promise<Buffer> {
  try {
    const raw = await readFile(path);
    // A text file's trailing newline is not part of the secret.
    return raw.subarray(0, raw.length - (raw.toString('latin1').match(/[\r\n]+$/)?.[0].length ?? 0));
  } catch (e) {
    throw new SrError('NOT_FOUND', `cannot read the secret file ${path}`, { cause: e, details: { path } });
  }
}

export async function deidentifyCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, positionals } = parse(args, {
    ...INDEX_OPTIONS, out: { type: 'string' }, 'secret-file': { type: 'string' }, 'keep-dates-shifted': { type: 'boolean' },
    'keep-patient-characteristics': { type: 'boolean' }, 'allow-burned-in': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  if (flag(values, 'help')) {
    deps.stdout.write(DEIDENTIFY_HELP + '\n');
    return 0;
  }
  const out = stringOpt(values, 'out');
  if (out === undefined || positionals.length === 0) throw new SrError('USAGE', 'give the files or folders to de-identify and --out DIR');
  const secretFile = stringOpt(values, 'secret-file') ?? deps.env['SECONDREADER_DEID_SECRET_FILE'];
  let secret: Buffer;
  if (secretFile !== undefined) secret = await readSecret(resolve(deps.cwd, secretFile));
  else if (stringOpt(values, 'data') !== undefined || stringOpt(values, 'postgres') !== undefined) {
    const db = await openAuditDb(indexLocation(values, deps));
    try {
      secret = await siteSecret(db);
    } finally {
      await db.close();
    }
  } else throw new SrError('USAGE', 'give --secret-file F (or SECONDREADER_DEID_SECRET_FILE), or --data/--postgres to use the server\'s site secret');
  const d = createDeidentifier({
    secret, retainModifiedDates: flag(values, 'keep-dates-shifted'), retainPatientCharacteristics: flag(values, 'keep-patient-characteristics'),
    allowBurnedInAnnotation: flag(values, 'allow-burned-in'),
  });
  const report = await deidentifyFolder(positionals.map((p) => resolve(deps.cwd, p)), resolve(deps.cwd, out), d);
  for (const f of report.failed) deps.stderr.write(`  not de-identified: ${f.source}: ${f.code}: ${f.message}\n`);
  deps.stdout.write(`de-identified ${report.written} instance(s) into ${resolve(deps.cwd, out)}; ${report.failed.length} refused or failed; ${report.skippedNotDicom} non-DICOM file(s) skipped\n`);
  return report.failed.length > 0 ? 1 : 0;
}
