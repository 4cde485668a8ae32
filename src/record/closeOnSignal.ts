// Ctrl-C must not cost a recording: an Arrow IPC file cut before its footer cannot be read at all
// (shared/notes/arrow.md), so on SIGINT/SIGTERM the writer is closed as incomplete first.
//
// Node runs signal handlers from the event loop: a recorder that runs the machine in one synchronous loop
// never sees them. Run the machine in slices (e.g. a few million instructions, then `await setImmediate`)
// and let `onSignal` ask the loop to stop, so the manifest records the exact stop point; without
// `onSignal`, the handler closes the writer at once and re-raises the signal.

import type { TraceWriter } from './TraceWriter.js';

export interface CloseOnSignalOptions {
  /** Signals to handle (default SIGINT and SIGTERM). */
  signals?: readonly NodeJS.Signals[];
  /**
   * Called instead of the default action. Typical use: set a flag the run loop checks between slices; the
   * loop then stops the machine and calls writer.close(false, { reason: 'interrupted', ... }) itself.
   */
  onSignal?: (signal: NodeJS.Signals) => void;
  /** After the default close: what to do (default: remove the handlers and re-raise the signal, so the
   *  process ends the way it would have without us). */
  after?: (signal: NodeJS.Signals) => void;
}

/** Install the handlers; returns a function that removes them (call it once the writer is closed). */
export function closeOnSignal(writer: TraceWriter, opts: CloseOnSignalOptions = {}): () => void {
  const signals = opts.signals ?? (['SIGINT', 'SIGTERM'] as const);
  const handlers = new Map<NodeJS.Signals, () => void>();
  const remove = (): void => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
    handlers.clear();
  };
  for (const sig of signals) {
    const h = (): void => {
      if (opts.onSignal) {
        opts.onSignal(sig);
        return;
      }
      writer.close(false, { reason: 'interrupted', detail: `received ${sig}` });
      if (opts.after) {
        opts.after(sig);
        return;
      }
      remove();
      process.kill(process.pid, sig);
    };
    handlers.set(sig, h);
    process.on(sig, h);
  }
  return remove;
}
