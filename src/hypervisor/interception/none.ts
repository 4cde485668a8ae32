// `none`: no interception (seed 004's "Trunk" baseline).

import type { Footprint, InterceptionStrategy } from './Strategy.js';

export class NoInterception implements InterceptionStrategy {
  readonly name = 'none';
  readonly description = 'no interception (the baseline, seed 004 "Trunk")';
  install(): void {}
  saveState(): Record<string, unknown> {
    return {};
  }

  loadState(): void {}

  footprint(): Footprint {
    return { kernelTextBytesChanged: 0, lstarVisibleToGuest: 'original', injectedPageHiddenByEpt: false, notes: [] };
  }
}
