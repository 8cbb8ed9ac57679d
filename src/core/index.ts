export * from './errors.ts';
export * from './log.ts';
export * from './version.ts';
export * from './atomic-file.ts';
export * from './random.ts';
export * from './file-stem.ts';
