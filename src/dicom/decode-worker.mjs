// Entry of a DICOM decode worker thread. Plain JS on purpose: worker threads do not inherit the tsx hooks that
// the main thread registered, so this file registers them before importing the TypeScript decode loop.
import { parentPort } from 'node:worker_threads';

try {
  const { register } = await import('tsx/esm/api');
  register();
  const { serveDecodeJobs } = await import('./decode-worker-loop.ts');
  serveDecodeJobs(parentPort);
  parentPort.postMessage({ type: 'ready' });
} catch (e) {
  parentPort.postMessage({ type: 'start-error', error: e instanceof Error ? e.message : String(e) });
}
