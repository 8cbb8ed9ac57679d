// Build facts (docs/web.md, ../shared DEPENDENCIES "Web"): Cornerstone's decode workers are ES modules, and vtk.js
// needs the npm `events` package in the browser bundle.
import { defineConfig } from 'vite';

const api = process.env.SECONDREADER_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  worker: { format: 'es' },
  build: { outDir: 'dist', target: 'es2022', chunkSizeWarningLimit: 10_000, sourcemap: false },
  optimizeDeps: {
    exclude: ['@cornerstonejs/dicom-image-loader'],
    include: ['dicom-parser', '@cornerstonejs/core', '@cornerstonejs/tools', 'events'],
  },
  server: { proxy: { '/api': api, '/dicom-web': api } },
});
