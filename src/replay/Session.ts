// One session type for recording and replaying (rr's Session): the same machine assembly and run loop; only
// the environment differs (LiveEnvironment's simulated devices, wrapped by RecordingEnvironment to log their
// inputs; or ReplayEnvironment feeding the log back). recordTrace and replayTrace are the two sessions.

import { Machine, StopReason, type Environment, type RunResult } from '../emulator/machine.js';
import { Vmcs } from '../emulator/vmx/Vmcs.js';
import { Ept } from '../emulator/vmx/Ept.js';
import { exitCostFunction, getCostModel, type CostModel } from '../emulator/costModel.js';
import { applyExitPreset, getExitPreset } from '../hypervisor/exitPresets.js';
import { enterGuest } from '../hypervisor/boot.js';
import { loadGuest, type LoadedGuest } from '../hypervisor/loader.js';
import { vmcsPolicy } from '../hypervisor/vmcsPolicy.js';
import { Hypervisor } from '../hypervisor/Hypervisor.js';
import { DEFAULT_STRATEGY, getStrategy, type InterceptionStrategy } from '../hypervisor/interception/index.js';
import { getWorkload, loadOptions, type Workload } from '../hypervisor/workloads.js';
import { installHyperupcalls, type HyperupcallRuntime } from '../hypervisor/hyperupcalls/runtime.js';
import { linuxCpuid } from '../emulator/cpu/cpuModel.js';
import { loadLinuxWorkload, prepareWorkload } from '../hypervisor/linux/linuxGuest.js';
import { enterLinux } from '../hypervisor/linux/loadLinux.js';
import { linuxGuestKernel } from '../hypervisor/linux/linuxGuestKernel.js';
import { vmtraceGuestKernel, type GuestKernel } from '../hypervisor/interception/Strategy.js';
import { UserError } from '../errors.js';
import { LinuxKernel } from '../introspection/LinuxKernel.js';
import { attachLinuxProbes } from '../introspection/linuxProbes.js';

export interface SessionConfig {
  /**
   * Workload name or description file, optionally with `:key=value,...` parameters; or an already
   * expanded workload (replay rebuilds it from the trace's own images).
   */
  workload: string | Workload;
  /** Exit-configuration preset (src/hypervisor/exitPresets.ts). */
  exitPreset: string;
  /** Cost-model preset (src/emulator/costModel.ts), or a model (a sensitivity sweep's withRoundTrip copy). */
  costModel: string | CostModel;
  /** Overrides the workload's seed. */
  seed?: number;
  /** Stop after this many guest instructions (a runaway guest ends cleanly). */
  maxInstructions?: number;
  /** Stop after this many exits. */
  maxExits?: number;
  /** Syscall-interception strategy (src/hypervisor/interception). */
  intercept?: string;
  /** For the `selective` strategy: the syscalls to exit on. */
  syscalls?: string[];
  /** Charge the hypervisor's logging work for each intercepted syscall (seed 004 "log" vs "nolog"). */
  logSyscalls?: boolean;
  /**
   * Linux guests: ground truth from probes on the kernel's own functions (src/introspection/linuxProbes.ts;
   * invisible to the guest). Off only to measure what they cost the host.
   */
  groundTruthProbes?: boolean;
}

export const SESSION_DEFAULTS = {
  exitPreset: 'kvm-default',
  costModel: 'modern',
  maxInstructions: 2_000_000_000,
  maxExits: 50_000_000,
  intercept: DEFAULT_STRATEGY,
} as const;

/** Guest-physical memory beyond what the guest is told it has, for the hypervisor's injected pages. */
export const RESERVED_BYTES = 16 * 4096;

/** Everything assembled for one run, before its environment is attached. */
export interface Assembled {
  machine: Machine;
  workload: Workload;
  loaded: LoadedGuest;
  vmcs: Vmcs;
  /** Guest-physical page permissions (and remaps) the VMM controls when the preset enables EPT. */
  ept: Ept;
  costModel: CostModel;
  /** The exit handlers (hypercalls, MSR shadows, strategy hooks). */
  hypervisor: Hypervisor;
  /** The hyperupcall runtime: HC 1 registration and the programs bound to events (docs/hyperupcalls.md). */
  hyperupcalls: HyperupcallRuntime;
  strategy: InterceptionStrategy;
  config: Required<SessionConfig>;
}

/**
 * Build the machine for a configuration: load the workload's guest into memory, program the VMCS from
 * the exit preset, take time and costs from the cost model. `makeEnv` receives the machine (its CPU and
 * memory exist) and returns the environment.
 */
export function assemble(config: SessionConfig, makeEnv: (m: Machine, w: Workload) => Environment): Assembled {
  const overrides: Record<string, number> = config.seed !== undefined ? { seed: config.seed } : {};
  const workload = typeof config.workload === 'string' ? getWorkload(config.workload, overrides) : config.workload;
  if (config.seed !== undefined) workload.seed = config.seed;
  const linux = workload.linux !== undefined;
  getExitPreset(config.exitPreset); // clear error for an unknown name
  const costModel = typeof config.costModel === 'string' ? getCostModel(config.costModel) : config.costModel;
  const vmcs = new Vmcs();
  applyExitPreset(vmcs, config.exitPreset);
  const hypervisor = new Hypervisor();
  const full: Required<SessionConfig> = {
    workload: config.workload,
    exitPreset: config.exitPreset,
    costModel: config.costModel,
    seed: workload.seed,
    maxInstructions: config.maxInstructions ?? SESSION_DEFAULTS.maxInstructions,
    maxExits: config.maxExits ?? SESSION_DEFAULTS.maxExits,
    intercept: config.intercept ?? (linux ? 'none' : SESSION_DEFAULTS.intercept),
    syscalls: config.syscalls ?? [],
    logSyscalls: config.logSyscalls ?? true,
    groundTruthProbes: config.groundTruthProbes ?? true,
  };
  const strategy = getStrategy(full.intercept, { syscalls: full.syscalls });
  let env: Environment | null = null;
  const lazyEnv: Environment = {
    nextEventAt: () => (env as Environment).nextEventAt(),
    advanceTo: (i) => (env as Environment).advanceTo(i),
    portIn: (p, s) => (env as Environment).portIn(p, s),
    portOut: (p, s, v) => (env as Environment).portOut(p, s, v),
    deviceAt: (p) => (env as Environment).deviceAt(p),
    get inRaisedIrq(): boolean {
      return (env as Environment).inRaisedIrq;
    },
    pendingVector: () => (env as Environment).pendingVector(),
    acknowledge: () => (env as Environment).acknowledge(),
  };
  const machine = new Machine(lazyEnv, {
    // The guest is told memBytes (boot info); the hypervisor keeps RESERVED_BYTES above it for itself.
    memoryBytes: workload.memBytes + RESERVED_BYTES,
    cyclesPerInstruction: costModel.cyclesPerInstruction,
    tscHz: costModel.tscHz,
    policy: vmcsPolicy(vmcs, costModel.cyclesPerInstruction),
    costModel: exitCostFunction(costModel),
    handler: hypervisor,
    maxInstructions: full.maxInstructions,
    maxExits: full.maxExits,
    // A Linux guest sees the documented CPU model (cpuModel.ts); our own guest keeps the CPU's default table.
    cpuid: linux ? linuxCpuid() : undefined,
  });
  // Linux's boot runs ~60,000 distinct blocks, most a few hundred times: compiling each hot one costs more than
  // it returns (boot to halt: 42.3 s of CPU with the block compiler, 18.1 s interpreted), so a Linux guest is
  // interpreted. The compiler changes speed only, never what executes.
  if (linux) machine.cpu.jitEnabled = false;
  const ept = new Ept((workload.memBytes + RESERVED_BYTES) / 4096);
  machine.cpu.hypervisorFrom = workload.memBytes;
  // With EPT enabled every guest access is checked against the VMM's per-page permissions (SDM 29.3);
  // they start as RWX everywhere, so nothing exits until a strategy restricts a page.
  if (vmcs.eptEnabled()) machine.cpu.mmu.eptPerm = ept.perm;
  let loaded: LoadedGuest;
  let kernel: GuestKernel;
  // A Linux kernel is known from its own image (kallsyms, BTF, sys_call_table: src/introspection), parsed once.
  const linuxKernel = linux ? LinuxKernel.of(workload.linux!.vmlinux!) : null;
  if (linux) {
    const l = loadLinuxWorkload(machine.cpu.mmu.u8, workload, costModel.tscHz);
    enterLinux(machine.cpu, l);
    loaded = l;
    kernel = linuxGuestKernel(linuxKernel!, l.cmdline);
  } else {
    loaded = loadGuest(machine.cpu.mmu.u8, loadOptions(workload, costModel.tscHz));
    enterGuest(machine.cpu, loaded);
    kernel = vmtraceGuestKernel(loaded.symbols, workload.memBytes, RESERVED_BYTES);
  }
  env = makeEnv(machine, workload);
  machine.env = env;
  strategy.install({
    machine, hypervisor, vmcs, ept, costModel, kernel, log: full.logSyscalls, onSyscall: (r) => machine.publishSyscall(r),
  });
  const hyperupcalls = installHyperupcalls({ machine, hypervisor, costModel, workload }); // HC 1 and the event hooks (docs/hyperupcalls.md)
  // An unmodified Linux kernel reports nothing about itself: its ground truth comes from probes on its own
  // functions, found and decoded from the image's kallsyms and BTF (src/introspection), no exit, no cost.
  if (linux && full.groundTruthProbes) attachLinuxProbes(machine, linuxKernel!);
  return { machine, workload, loaded, vmcs, ept, costModel, hypervisor, hyperupcalls, strategy, config: full };
}

/**
 * The configuration with its workload expanded and ready for assemble(): a Linux workload's kernel is
 * unpacked here (asynchronously, cached on disk), which assemble cannot do.
 */
export async function resolveWorkload(config: SessionConfig): Promise<SessionConfig> {
  const overrides: Record<string, number> = config.seed !== undefined ? { seed: config.seed } : {};
  const workload = typeof config.workload === 'string' ? getWorkload(config.workload, overrides) : config.workload;
  await prepareWorkload(workload);
  return { ...config, workload };
}

/**
 * Run a machine to its end in slices of `slice` instructions, yielding to the event loop between slices
 * (so SIGINT handlers and progress output run); `onSlice` sees the progress. With `end`, the run also
 * returns (reason `paused`) once it pauses at or past icount `end`: where a recording that was stopped
 * between two slices (Ctrl-C) paused, after taking the exits and events due at that icount, as it did.
 */
export async function runSliced(m: Machine, slice: number, onSlice?: (r: RunResult) => void, end = Infinity): Promise<RunResult> {
  for (;;) {
    // Before every slice, the first included: a caller that runs many short machines one after another
    // (compare-interception's replays, each under one slice) would otherwise chain promises that never reach
    // the event loop, and a test worker's RPC (vitest's 60 s birpc timeout) went unanswered for minutes.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const r = m.run(Math.min(m.cpu.icount + slice, end));
    onSlice?.(r);
    if (r.reason !== StopReason.paused || m.cpu.icount >= end) return r;
  }
}
