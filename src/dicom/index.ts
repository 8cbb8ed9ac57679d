export * from './types.ts';
export * from './dataset.ts';
