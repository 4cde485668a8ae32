// Public API of the eBPF runtime for hyperupcalls (docs/ebpf.md).
export * from './isa.js';
export { assemble, AsmError, parseInt64 } from './assembler.js';
export { disassemble, disassembleInsn } from './disassembler.js';
export { parseDataFile, DataFileError, type DataFile } from './parseDataFile.js';
export {
  Memory, EbpfFault, RegionTag, MAX_TAG, FRAME_SIZE, MAX_FRAMES, STACK_SIZE, framePointer, address, type RegionInit,
} from './Memory.js';
export { interpret, predecode, DEFAULT_MAX_STEPS, type RunOptions, type RunResult, type Decoded } from './interpreter.js';
export { compile, type CompiledProgram } from './compiler.js';
export {
  verify, VerifyError, DEFAULT_MAX_INSNS, DEFAULT_MAX_PROCESSED, type VerifierOptions, type AbstractReg, type Verification, type EntryArg, type RegionSpec, type RegionName,
} from './verifier.js';
export {
  HelperRegistry, HelperId, hyperupcallHelpers, conformanceHelpers, memcpyImpl, memsetImpl, cmpxchgImpl, tracePrintkImpl,
  MAX_HELPER_BYTES, type ArgSpec, type HelperCall, type HelperImpl, type HelperSpec,
} from './helpers.js';
export { runConformance, conformanceGroup, LOOP_BUDGET, type ConformanceOutcome, type EngineOutcome } from './conformance.js';
