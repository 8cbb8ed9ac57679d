// Entry of a kernel worker thread. Plain JS on purpose: worker threads do not inherit the tsx hooks that the
// main thread registered, so this file registers them before importing the TypeScript task table.
import { workerData } from 'node:worker_threads';

const { status, port } = workerData;
try {
  const { register } = await import('tsx/esm/api');
  register();
  const { serveKernelTasks } = await import('./kernel-worker-loop.ts');
  serveKernelTasks(port);
  Atomics.store(status, 0, 1);
} catch (e) {
  port.postMessage({ error: e instanceof Error ? e.message : String(e) });
  Atomics.store(status, 0, 2);
}
Atomics.notify(status, 0);
