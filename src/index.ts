// Public surface of vmtrace (one entry point, flechette-style): what a notebook helper, a script or another
// tool needs to record, replay, read and analyse traces, without reaching into module paths.

// The machine
export { Machine, StopReason, type RunResult, type Environment, type MachineOptions } from './emulator/machine.js';
export { Cpu } from './emulator/cpu/Cpu.js';
export { Vmcs } from './emulator/vmx/Vmcs.js';
export { ExitReason, EXIT_REASON_NAMES } from './emulator/vmx/exitReasons.js';
export { COST_MODELS, COST_MODEL_NAMES, getCostModel, withRoundTrip, costOfExit, type CostModel } from './emulator/costModel.js';

// The hypervisor
export { Hypervisor, Hypercall } from './hypervisor/Hypervisor.js';
export { getWorkload, listWorkloads, DEFAULT_WORKLOAD, type Workload } from './hypervisor/workloads.js';
export { EXIT_PRESET_NAMES, getExitPreset } from './hypervisor/exitPresets.js';
export { STRATEGIES, STRATEGY_NAMES, DEFAULT_STRATEGY, getStrategy, listStrategies, type InterceptionStrategy, type Footprint } from './hypervisor/interception/index.js';
export type { ExitEvent, IoEvent, InterruptEvent, GroundTruthEvent, SyscallEvent, WitnessEvent, MachineEvent, MachineObserver } from './emulator/events.js';

// Record and replay: one session (assembly, run loop) with a live, recording or replaying environment
export { assemble, runSliced, SESSION_DEFAULTS, type SessionConfig, type Assembled } from './replay/Session.js';
export { LiveEnvironment } from './replay/LiveEnvironment.js';
export { recordTrace, type RecordOptions, type RecordResult } from './replay/recordTrace.js';
export { replayTrace, type ReplayOptions, type ReplayReport } from './replay/replayTrace.js';
export { TraceReader, TraceState } from './record/TraceReader.js';
export { TraceWriter } from './record/TraceWriter.js';
export { TraceError, UserError } from './errors.js';
export { TABLES, TABLE_NAMES, WITNESS, FORMAT_VERSION, type TableName, type TableSpec, type ColumnSpec } from './record/schema.js';
export { readWitness, type WitnessRow } from './record/witnessTable.js';

// Analyses
export { ANALYSES, analysisNames, type Analysis, type AnalysisResult, type ResultTable } from './analyses/index.js';
export { compareTrace, VARIANTS as INTERCEPTION_VARIANTS } from './analyses/compareInterception.js';

// Outputs for other tools: Parquet, Perfetto, the HTML report
export { exportParquet, type ParquetExport } from './export/parquet.js';
export { exportPerfetto, type PerfettoExport } from './export/perfetto.js';
export { buildReport, type ReportModel, type ReportOptions } from './report/reportModel.js';
export { reportHtml } from './report/reportHtml.js';
