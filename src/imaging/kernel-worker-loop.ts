/** The loop a kernel worker runs: take chunks of the posted task from the shared counter until none are left. */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { MessagePort } from 'node:worker_threads';
import { runTaskChunk } from './kernel-tasks.ts';
import type { TaskName, TaskParams } from './kernel-tasks.ts';

interface TaskMessage {
  task: TaskName;
  params: TaskParams<TaskName>;
  ctl: Int32Array;
  nChunks: number;
}

/**
 * A SharedArrayBuffer is freed only when every thread that saw it has collected its wrapper. An idle worker
 * allocates nothing and so never collects: without an explicit collection after each task, every volume a
 * kernel shared with it would stay alive (measured: +56 MiB per 10 M-voxel Gaussian). The worker's heap is
 * tiny, so a full collection costs a few milliseconds.
 */
function makeCollector(): () => void {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    if (typeof gc === 'function') return () => (gc as () => void)();
  } catch (e) {
    // No collector available: shared buffers are then freed whenever this worker next collects on its own.
    void e;
  }
  return () => undefined;
}

export function serveKernelTasks(port: MessagePort): void {
  const collect = makeCollector();
  port.on('message', (msg: TaskMessage) => {
    const { task, params, ctl, nChunks } = msg;
    try {
      for (let c = Atomics.add(ctl, 0, 1); c < nChunks; c = Atomics.add(ctl, 0, 1)) runTaskChunk(task, params, c);
    } catch (e) {
      Atomics.store(ctl, 0, nChunks);
      Atomics.store(ctl, 2, 1);
      port.postMessage({ error: e instanceof Error ? e.message : String(e) });
    } finally {
      Atomics.add(ctl, 1, 1);
      Atomics.notify(ctl, 1);
    }
    // Collect once the caller is released, after this handler has dropped the message.
    setImmediate(collect);
  });
  // The port stays ref'ed: it is what keeps this worker alive between tasks (the main side unrefs the Worker).
}
