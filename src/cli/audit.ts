/** `secondreader audit verify|export`: the audit trail of a server's index database, from the command line. */
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { silentLogger, SrError } from '../core/index.ts';
import { AuditTrail, exportLines, isExportFormat, openAuditDb } from '../server/audit/index.ts';
import type { AuditDbConfig } from '../server/audit/index.ts';
import { parseAuditAnchor } from '../server/audit/trail.ts';
import { flag, parse, stringOpt } from './args.ts';
import type { OptionValues } from './args.ts';
import type { CliDeps, OutputStream } from './io.ts';

export const AUDIT_HELP = `Usage: secondreader audit verify [--expect-head SEQ:HASH] [--data DIR | --postgres URL [--schema S]]
       secondreader audit export [--format jsonl|csv] [--out FILE] [--data DIR | --postgres URL [--schema S]]

The audit trail (who read or wrote which patient data, logins, exports, configuration changes) is an
append-only, hash-chained table in the server's index database (docs/audit.md).
  verify   recomputes the hash chain; prints the head (seq and hash: record it elsewhere, it is what
           proves later that no newest rows were removed), or the first broken seq (exit code 1)
           --expect-head SEQ:HASH  a head recorded earlier: fails (exit 1) if that row is gone or differs,
                                   which detects removal of the newest rows (truncation)
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
  const { values, positionals } = parse(args, { ...INDEX_OPTIONS, format: { type: 'string' }, out: { type: 'string' }, 'expect-head': { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  const [sub, ...extra] = positionals;
  if (flag(values, 'help')) {
    deps.stdout.write(AUDIT_HELP + '\n');
    return 0;
  }
  if ((sub !== 'verify' && sub !== 'export') || extra.length > 0) throw new SrError('USAGE', 'expected "audit verify" or "audit export"');
  const expectHead = stringOpt(values, 'expect-head');
  const anchor = expectHead === undefined ? undefined : parseAuditAnchor(expectHead);
  if (expectHead !== undefined && (anchor === undefined || sub !== 'verify')) {
    throw new SrError('USAGE', `--expect-head goes with "audit verify" and takes SEQ:HASH (64 hex digits), got ${JSON.stringify(expectHead)}`);
  }
  const format = stringOpt(values, 'format') ?? 'jsonl';
  if (!isExportFormat(format)) throw new SrError('USAGE', `--format must be jsonl or csv, got ${JSON.stringify(format)}`);
  const db = await openAuditDb(indexLocation(values, deps));
  try {
    const trail = await AuditTrail.open(db, { log: deps.log ?? silentLogger });
    if (sub === 'verify') {
      const v = await trail.verify(anchor);
      if (v.ok) {
        deps.stdout.write(`audit trail ok: ${v.count} event(s); head seq ${v.headSeq} hash ${v.headHash}\n`);
        if (anchor) deps.stdout.write(`expected head seq ${anchor.seq} found unchanged\n`);
        return 0;
      }
      deps.stdout.write(`audit trail BROKEN at seq ${v.brokenSeq}: ${v.reason} (${v.count} event(s) verified before it)\n`);
      return 1;
    }
    const outPath = stringOpt(values, 'out');
    const fh = outPath !== undefined ? await open(resolve(deps.cwd, outPath), 'w') : undefined;
    try {
      if (fh) {
        for await (const line of exportLines(trail, format)) await fh.write(line);
        await fh.sync();
      } else {
        await writeLines(exportLines(trail, format), deps.stdout);
      }
    } finally {
      await fh?.close();
    }
    return 0;
  } finally {
    await db.close();
  }
}

interface ErrorEmitter {
  on(event: 'error', listener: (e: unknown) => void): unknown;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
  readonly destroyed?: boolean;
}

function isEmitter(x: unknown): x is ErrorEmitter {
  const e = x as { on?: unknown; once?: unknown; off?: unknown };
  return typeof e.on === 'function' && typeof e.once === 'function' && typeof e.off === 'function';
}

const isEpipe = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === 'EPIPE';

/**
 * Writes the export to standard output, waiting for the pipe to drain. A reader that goes away early
 * (`audit export | head`) makes the pipe fail with EPIPE: the export then stops quietly with exit code 0, as
 * other Unix tools do; any other write error is thrown.
 */
async function writeLines(lines: AsyncIterable<string>, out: OutputStream): Promise<void> {
  let closed = false;
  let failure: unknown;
  const stream = isEmitter(out) ? out : undefined;
  // Stays attached: writes already queued may still fail with EPIPE after the loop has ended.
  stream?.on('error', (e) => {
    if (isEpipe(e)) closed = true;
    else failure ??= e;
  });
  for await (const line of lines) {
    if (failure !== undefined) throw failure;
    if (closed) return;
    let more: unknown;
    try {
      more = out.write(line);
    } catch (e) {
      if (isEpipe(e)) return;
      throw e;
    }
    if (more === false && stream && !closed && stream.destroyed !== true) {
      await new Promise<void>((res) => {
        const done = (): void => {
          stream.off('drain', done);
          stream.off('close', done);
          res();
        };
        stream.once('drain', done);
        stream.once('close', done);
      });
    }
  }
}
