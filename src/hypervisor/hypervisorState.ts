// The hypervisor's own state, beyond the machine's: what a checkpoint (src/replay/checkpoint.ts) must carry so
// that a replay can start in the middle of a run. The hypervisor knows nothing of traces; the replay layer
// stores this record wherever it keeps checkpoints.

import { UserError } from '../errors.js';
import type { Hypervisor } from './Hypervisor.js';
import type { InterceptionStrategy } from './interception/index.js';
import type { HyperupcallRuntime, HyperupcallState } from './hyperupcalls/runtime.js';

export interface HypervisorState {
  strategy: string;
  msrShadows: Array<[number, [number, number]]>;
  strategyState: Record<string, unknown>;
  /** Hyperupcall programs registered so far. */
  hyperupcalls?: number;
  /**
   * The hyperupcall runtime's registry and records (programs rebuilt from their registrations on load);
   * absent when nothing was registered or rejected, and in checkpoints of older vmtraces (which cannot be
   * replayed from when `hyperupcalls` > 0).
   */
  hyperupcallState?: HyperupcallState;
}

/** The parts of an assembled machine the hypervisor's state lives in. */
export interface HypervisorParts {
  hypervisor: Hypervisor;
  hyperupcalls: HyperupcallRuntime;
  strategy: InterceptionStrategy;
}

export function saveHypervisorState(a: HypervisorParts): HypervisorState {
  const rt = a.hyperupcalls;
  const s: HypervisorState = {
    strategy: a.strategy.name, msrShadows: [...a.hypervisor.msrShadows.entries()], strategyState: a.strategy.saveState(),
    hyperupcalls: rt.programs.length,
  };
  if (!rt.empty) s.hyperupcallState = rt.saveState();
  return s;
}

export function loadHypervisorState(a: HypervisorParts, s: HypervisorState): void {
  if (s.strategy !== a.strategy.name) {
    throw new UserError(`the checkpoint was taken under interception strategy ${s.strategy}: replay from it with the same strategy, or from the start`);
  }
  if ((s.hyperupcalls ?? 0) > 0 && s.hyperupcallState === undefined) {
    // Checkpoints of older vmtraces counted the registered programs but did not save them.
    throw new UserError(`the guest had registered ${s.hyperupcalls} hyperupcall program(s) before this checkpoint, which was written by an older vmtrace that did not save them: replay from the start, or re-record the trace`);
  }
  a.hypervisor.msrShadows.clear();
  for (const [k, v] of s.msrShadows) a.hypervisor.msrShadows.set(k, [v[0], v[1]]);
  a.strategy.loadState(s.strategyState);
  // Programs rebuilt from their registrations (decoded, verified, compiled), counters, records, observers.
  if (s.hyperupcallState !== undefined) a.hyperupcalls.restoreState(s.hyperupcallState);
}
