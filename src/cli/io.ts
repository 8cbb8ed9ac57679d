/**
 * What a command may touch of the outside world, passed in so `main()` runs in-process in tests and in a
 * server: output streams, environment, working directory, and the analyses to run.
 */
import type { Logger } from '../core/index.ts';
import type { AnalysisManifest } from '../engine/index.ts';

export interface OutputStream {
  write(chunk: string): unknown;
  /** Set on a terminal: progress rewrites one line instead of printing many. */
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CliDeps {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Manifests to register (validated at start-up). Default: src/analyses (the production list). */
  readonly analyses?: readonly AnalysisManifest[];
  readonly log?: Logger;
}
