/** `secondreader audit verify|export`: the audit trail of a server's index database, from the command line. */
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { silentLogger, SrError } from '../core/index.ts';
import { AuditTrail, exportLines, isExportFormat, openAuditDb } from '../server/audit/index.ts';
import type { AuditDbConfig } from '../server/audit/index.ts';
import { flag, parse, stringOpt } from './args.ts';
import type { OptionValues } from './args.ts';
import type { CliDeps } from './io.ts';

export const AUDIT_HELP = `Usage: secondreader audit verify [--data DIR | --postgres URL [--schema S]]
       secondreader audit export [--format jsonl|csv] [--out FILE] [--data DIR | --postgres URL [--schema S]]

The audit trail (who read or wrote which patient data, logins, exports, configuration changes) is an
append-only, hash-chained table in the server's index database (docs/audit.md).
  verify   recomputes the hash chain; prints the head (seq and hash: record it elsewhere, it is what
           proves later that no newest rows were removed), or the first broken seq (exit code 1)
  export   writes every event in seq order, JSON Lines (default) or CSV, to --out or standard output

Options:
      --data DIR        the server's data folder (SQLite index)     [default ./secondreader-data]
      --postgres URL    the server's PostgreSQL database instead (postgres://user@host/db)
      --schema S        its schema                                  [default secondreader]
  -h, --help            show this help
Exit codes: 0 ok, 1 chain broken, 2 bad usage or no index found.`;

/** Where the index is, from --data / --postgres (shared with `deidentify --data`). */
export function indexLocation(values: OptionValues, deps: CliDeps): AuditDbConfig {
  const url = stringOpt(values, 'postgres');
  if (url !== undefined) {
    if (stringOpt(values, 'data') !== undefined) throw new SrError('USAGE', 'give --data or --postgres, not both');
    const schema = stringOpt(values, 'schema');
    return { backend: 'postgres', connectionString: url, ...(schema !== undefined ? { schema } : {}) };
  }
  const dataDir = resolve(deps.cwd, stringOpt(values, 'data') ?? './secondreader-data');
  if (!existsSync(join(dataDir, 'index.sqlite'))) throw new SrError('NOT_FOUND', `no index database in ${dataDir} (index.sqlite)`, { details: { dataDir } });
  return { backend: 'sqlite', dataDir };
}

export const INDEX_OPTIONS = {
  data: { type: 'string' },
  postgres: { type: 'string' },
  schema: { type: 'string' },
} as const;

export async function auditCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, positionals } = parse(args, { ...INDEX_OPTIONS, format: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  const [sub, ...extra] = positionals;
  if (flag(values, 'help')) {
    deps.stdout.write(AUDIT_HELP + '\n');
    return 0;
  }
  if ((sub !== 'verify' && sub !== 'export') || extra.length > 0) throw new SrError('USAGE', 'expected "audit verify" or "audit export"');
  const format = stringOpt(values, 'format') ?? 'jsonl';
  if (!isExportFormat(format)) throw new SrError('USAGE', `--format must be jsonl or csv, got ${JSON.stringify(format)}`);
  const db = await openAuditDb(indexLocation(values, deps));
  try {
    const trail = await AuditTrail.open(db, { log: deps.log ?? silentLogger });
    if (sub === 'verify') {
      const v = await trail.verify();
      if (v.ok) {
        deps.stdout.write(`audit trail ok: ${v.count} event(s); head seq ${v.headSeq} hash ${v.headHash}\n`);
        return 0;
      }
      deps.stdout.write(`audit trail BROKEN at seq ${v.brokenSeq}: ${v.reason} (${v.count} event(s) verified before it)\n`);
      return 1;
    }
    const outPath = stringOpt(values, 'out');
    const fh = outPath !== undefined ? await open(resolve(deps.cwd, outPath), 'w') : undefined;
    try {
      for await (const line of exportLines(trail, format)) {
        if (fh) await fh.write(line);
        else deps.stdout.write(line);
      }
      if (fh) await fh.sync();
    } finally {
      await fh?.close();
    }
    return 0;
  } finally {
    await db.close();
  }
}
