export * from './png.ts';
export * from './slice-image.ts';
