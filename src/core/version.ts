import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

/** Name and version of this software, written into every output as provenance. */
export const GENERATOR = { name: pkg.name, version: pkg.version } as const;

/** The label every output carries: assistive, not a diagnosis. */
export const ASSISTIVE_DISCLAIMER = 'AI-assisted result; not a diagnosis; requires physician confirmation.';
