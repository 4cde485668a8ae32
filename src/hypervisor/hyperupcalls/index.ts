// Hyperupcalls (seed 003): the runtime, its ABI, and the programs the guest ships.
export * from './abi.js';
export * from './runtime.js';
