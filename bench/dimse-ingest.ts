/**
 * DIMSE ingest throughput: dcmtk storescu (TCP_NODELAY=1, one association) → our SCP → SQLite archive, on N small
 * CT files (16×16 pixels, so the figure is per-instance overhead: PDU handling, temp file, fsync, index row).
 * For comparison the same files go to dcmtk storescp (files only, no index). Prints figures; asserts nothing.
 *
 *   node --import tsx bench/dimse-ingest.ts [count=500]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { silentLogger } from '../src/core/log.ts';
import { startDimseServer } from '../src/dimse/index.ts';
import { openTempArchive, runTool, startStorescp, writeSmallCtSeries } from '../src/dimse/testing.ts';

export interface DimseIngestFigures {
  readonly instances: number;
  readonly ourScpPerSecond: number;
  readonly storescpPerSecond: number;
}

export async function benchDimseIngest(count = 500): Promise<DimseIngestFigures> {
  const work = await mkdtemp(join(tmpdir(), 'sr-bench-dimse-'));
  const ta = await openTempArchive();
  const server = await startDimseServer({
    archive: ta.archive,
    log: silentLogger,
    config: { port: 0, tempDir: join(ta.dir, 'incoming'), peers: [{ aeTitle: 'BENCH', host: '127.0.0.1', port: 1 }] },
  });
  const dest = await startStorescp(join(work, 'storescp'), 'DEST');
  try {
    const series = await writeSmallCtSeries(join(work, 'files'), count);
    const send = async (aec: string, port: number): Promise<number> => {
      const t0 = performance.now();
      const r = await runTool('storescu', ['-aet', 'BENCH', '-aec', aec, '127.0.0.1', String(port), ...series.files], 600_000);
      if (r.code !== 0) throw new Error(`storescu failed: ${r.stderr.slice(-500)}`);
      return count / ((performance.now() - t0) / 1000);
    };
    const ourScpPerSecond = await send('SECONDREADER', server.port);
    const stored = (await ta.archive.listInstances({ seriesInstanceUid: series.SeriesInstanceUID })).length;
    if (stored !== count) throw new Error(`only ${stored} of ${count} instances in the archive`);
    const storescpPerSecond = await send('DEST', dest.port);
    const figures = { instances: count, ourScpPerSecond, storescpPerSecond };
    process.stdout.write(
      `storescu → SecondReader SCP (SQLite archive): ${ourScpPerSecond.toFixed(0)} instances/s\n` +
        `storescu → dcmtk storescp (files, no index):  ${storescpPerSecond.toFixed(0)} instances/s\n` +
        `(${count} CT files of 16×16 pixels, one association each, TCP_NODELAY=1)\n`,
    );
    return figures;
  } finally {
    await dest.stop();
    await server.close();
    await ta.close();
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchDimseIngest(Number(process.argv[2] ?? 500));
}
