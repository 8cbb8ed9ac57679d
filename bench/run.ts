/**
 * `npm run bench` / `secondreader bench [section...]`: prints speed and memory figures for this machine.
 * Sections: decode (throughput per transfer syntax), kernels (each imaging kernel on 512×512×300 int16),
 * phantom (synthetic chest CT generation), chest (chest-ct-nodules end to end on 512×512×300), head
 * (head-ct-hemorrhage end to end on 512×512×40), jobs (queue pick-up latency, SQLite and PostgreSQL),
 * followup (follow-up registration time per pair and peak RSS).
 * Ingest, QIDO and WADO against Orthanc and dcmtk: `npm run bench:ingest` (bench/ingest.ts).
 * No timing is asserted anywhere in the test suite: figures are read here, by people.
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';

type Section = { readonly name: string; readonly run: () => Promise<unknown> };

const SECTIONS: readonly Section[] = [
  { name: 'decode', run: async () => (await import('./decode.ts')).benchDecode() },
  { name: 'kernels', run: async () => (await import('./kernels.ts')).benchKernels() },
  { name: 'phantom', run: async () => (await import('./phantom.ts')).benchPhantom() },
  { name: 'chest', run: async () => (await import('./chest.ts')).benchChest() },
  { name: 'head', run: async () => (await import('./head.ts')).benchHead() },
  { name: 'jobs', run: async () => (await import('./jobs.ts')).benchJobs() },
  { name: 'followup', run: async () => { const m = await import('./followup.ts'); await m.benchFollowUp(); await m.benchElastix(); return m.benchRealRegistration(); } },
];

export default async function runBench(argv: readonly string[] = []): Promise<number> {
  const wanted = argv.filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !SECTIONS.some((s) => s.name === w));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown section(s) ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.name).join(', ')}\n`);
    return 2;
  }
  const cpus = os.cpus();
  process.stdout.write(
    `SecondReader bench — node ${process.version}, ${os.availableParallelism()} CPU(s) (${cpus[0]?.model ?? '?'}), ` +
      `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`,
  );
  for (const section of SECTIONS) {
    if (wanted.length > 0 && !wanted.includes(section.name)) continue;
    process.stdout.write(`\n== ${section.name} ==\n`);
    await section.run();
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runBench(process.argv.slice(2));
}
