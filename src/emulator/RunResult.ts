// How a run of the machine ended (or paused): Machine.run's result.

export const StopReason = {
  guestExit: 'guest-exit', tripleFault: 'triple-fault', instructionLimit: 'instruction-limit',
  exitLimit: 'exit-limit', haltedForever: 'halted-forever', interrupted: 'interrupted', hypervisorError: 'hypervisor-error',
  /** run(until) reached `until`: not an end, call run again to continue. */
  paused: 'paused',
} as const;
export type StopReason = (typeof StopReason)[keyof typeof StopReason];

export interface RunResult {
  reason: StopReason;
  /** Guest exit status (guest-exit) or 0. */
  status: number;
  detail: string;
  icount: number;
  exits: number;
  cycles: number;
}
