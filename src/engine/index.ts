export * from './types.ts';
export * from './registry.ts';
export * from './findings.ts';
export * from './runner.ts';
export * from './series-source.ts';
export * from './prior.ts';
