// A worker thread running one of this folder's modules, from the compiled JavaScript or, under vitest and tsx,
// from the TypeScript sources (the thread registers tsx's loader first): the recorder's writer thread and
// replay's exit reader, one of each per process.

import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * Start the module `name` (without extension) beside `here` (the caller's import.meta.url) in a new worker
 * thread that does not keep the process alive (unref).
 */
export function moduleWorker(here: string, name: string): Worker {
  let w: Worker;
  if (here.endsWith('.ts')) {
    const tsx = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    const entry = new URL(`./${name}.ts`, here).href;
    w = new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { eval: true });
  } else w = new Worker(new URL(`./${name}.js`, here));
  w.unref();
  return w;
}

const running = new Map<string, Worker>();

/** The process's one thread running module `name` beside `here`: started on first use, again if it ended. */
export function sharedModuleWorker(here: string, name: string): Worker {
  const key = new URL(`./${name}`, here).href;
  const known = running.get(key);
  if (known !== undefined) return known;
  const w = moduleWorker(here, name);
  const forget = (): void => {
    if (running.get(key) === w) running.delete(key);
  };
  w.on('error', forget);
  w.on('exit', forget);
  running.set(key, w);
  return w;
}
