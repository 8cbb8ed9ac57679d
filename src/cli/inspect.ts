/** `secondreader inspect <path...>`: what is in these files, and what is wrong with it, without decoding pixels. */
import { SrError } from '../core/index.ts';
import { scanPaths, summarizeScan, TRANSFER_SYNTAX } from '../dicom/index.ts';
import type { ScanSummary, SeriesSummary } from '../dicom/index.ts';
import { flag, parse } from './args.ts';
import type { CliDeps } from './io.ts';
import { createProgressReporter } from './progress.ts';

export const INSPECT_HELP = `Usage: secondreader inspect <path...> [--json]

Lists the patients, studies and series found in DICOM files and folders (recursively): modality,
description, slices, spacing, transfer syntax and every problem (unreadable files, localizers,
inconsistent geometry). Pixels are not decoded.

Options:
  --json        print the inventory as JSON on stdout
  -h, --help    show this help
Exit codes: 0 DICOM found, 2 no DICOM found / unreadable path / bad usage.`;

const TS_NAMES = new Map<string, string>(Object.entries(TRANSFER_SYNTAX).map(([name, uid]) => [uid, name]));

function tsName(uid: string): string {
  return TS_NAMES.get(uid) ?? uid;
}

interface Row {
  readonly cells: string[];
  readonly problems: string[];
}

function seriesRow(se: SeriesSummary): Row {
  const main = se.stacks.find((s) => !s.excluded);
  const problems: string[] = [];
  for (const s of se.stacks) {
    problems.push(...s.problems);
    if (s.excluded) problems.push(`stack ${s.id.split('#')[1] ?? ''} (${s.sliceCount} image(s)) excluded: ${s.excluded}`);
    else if (s !== main) problems.push(`extra stack ${s.id.split('#')[1] ?? ''}: ${s.sliceCount} image(s) ${s.columns}×${s.rows} (only the largest stack is analysed)`);
    for (const n of s.notes) problems.push(`note: ${n}`);
  }
  const reasons = new Map<string, string[]>();
  for (const x of se.excludedInstances) reasons.set(x.reason, [...(reasons.get(x.reason) ?? []), x.source]);
  for (const [r, sources] of reasons) {
    const shown = sources.slice(0, 3).join(', ') + (sources.length > 3 ? `, … ${sources.length - 3} more` : '');
    problems.push(`${sources.length} object(s) excluded: ${r}: ${shown}`);
  }
  if (!main) problems.unshift('no analyzable image stack');
  const spacing = main?.spacingMm ? main.spacingMm.map((x) => (Math.round(x * 1000) / 1000).toString()).join('×') : '-';
  return {
    cells: [
      se.seriesNumber === undefined ? '-' : String(se.seriesNumber),
      se.modality,
      se.description ?? '',
      main ? String(main.sliceCount) : '0',
      main ? `${main.columns}×${main.rows}` : '-',
      spacing,
      se.transferSyntaxUids.map(tsName).join(','),
      se.seriesInstanceUid,
    ],
    problems,
  };
}

const HEADERS = ['#', 'MODALITY', 'DESCRIPTION', 'SLICES', 'MATRIX', 'SPACING mm', 'TRANSFER SYNTAX', 'SERIES UID'];

/** The text table of `inspect` (one block per study; problems indented under their series). */
export function formatInspectTable(summary: ScanSummary): string {
  const lines: string[] = [];
  const seriesCount = summary.patients.reduce((n, p) => n + p.studies.reduce((m, s) => m + s.series.length, 0), 0);
  lines.push(`${summary.fileCount} file(s), ${summary.patients.length} patient(s), ${seriesCount} series`);
  for (const p of summary.patients) {
    for (const st of p.studies) {
      lines.push('');
      lines.push(`Patient ${p.patientId}${p.patientName ? ` (${p.patientName})` : ''} · Study ${st.studyInstanceUid}${st.studyDate ? ` · ${st.studyDate}` : ''}${st.description ? ` · ${st.description}` : ''}`);
      const rows = st.series.map(seriesRow);
      const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => (r.cells[i] ?? '').length)));
      const fmt = (cells: readonly string[]) => '  ' + cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
      lines.push(fmt(HEADERS));
      for (const r of rows) {
        lines.push(fmt(r.cells));
        for (const pr of r.problems) lines.push(`      ! ${pr}`);
      }
    }
  }
  if (summary.problems.length > 0) {
    lines.push('');
    lines.push(`Problems (${summary.problems.length} file(s) not read):`);
    for (const pr of summary.problems) lines.push(`  ! ${pr}`);
  }
  return lines.join('\n');
}

export async function inspectCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (flag(values, 'help')) {
    deps.stdout.write(INSPECT_HELP + '\n');
    return 0;
  }
  if (positionals.length === 0) throw new SrError('USAGE', 'inspect needs at least one file or folder');
  const progress = createProgressReporter(deps.stderr);
  const scan = await scanPaths(positionals, { onProgress: (done, total) => progress.update('scan', done / total, 'reading DICOM headers', `${done}/${total}`) });
  progress.done();
  const summary = summarizeScan(scan);
  deps.stdout.write((flag(values, 'json') ? JSON.stringify(summary, null, 2) : formatInspectTable(summary)) + '\n');
  if (scan.patients.length === 0) {
    deps.stderr.write(`secondreader: no DICOM objects found in ${positionals.join(', ')} (${scan.fileCount} file(s) looked at)\n`);
    return 2;
  }
  return 0;
}
