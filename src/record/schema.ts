// The trace-directory format: one module that the writer, the reader, `trace info` and traces/README.md all
// follow. Every table is described once, column by column (name, type, unit, meaning, SDM reference); the
// Arrow schemas are derived from these descriptions.
//
// Type choices (shared/notes/arrow.md): counters and times (`icount`, `ts`, `cycles`, `seq`) are int64, so
// pandas and DuckDB can subtract them without unsigned wrap-around; bit patterns (RIP, qualification,
// registers) are uint64. Dictionaries are int8-indexed utf8 with one fixed dictionary per column, written
// once per file (polars rejects delta dictionaries). Nothing here is a type pyarrow, polars or DuckDB
// (through pyarrow) cannot read.
//
// SDM section numbers follow the current Intel SDM vol. 3C numbering (chapter 25 VMCS, 28 VM exits).

import { Binary, Dictionary, Field, Int8, Int64, Schema, Uint16, Uint32, Uint64, Uint8, Utf8, type DataType } from 'apache-arrow';
import { EXIT_REASON_KEYS } from '../emulator/vmx/exitReasons.js';
import { INTERRUPTION_TYPE_NAMES } from '../emulator/vmx/qualification.js';
import { ExitWord } from '../emulator/events.js';

/** Version of the directory layout, manifest and table schemas. Bump on any incompatible change. */
export const FORMAT_VERSION = 1;
/** The `format` field of every manifest. */
export const FORMAT_NAME = 'vmtrace';

export const ColType = {
  int64: 'int64', uint64: 'uint64', uint32: 'uint32', uint16: 'uint16', uint8: 'uint8',
  /** int8 indices into a fixed utf8 dictionary. */
  dict: 'dict',
  binary: 'binary', utf8: 'utf8',
} as const;
export type ColType = (typeof ColType)[keyof typeof ColType];

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColType;
  /** Null allowed (documented meaning of null in `doc`). */
  readonly nullable: boolean;
  /** Unit, or '' for identifiers and bit patterns. */
  readonly unit: string;
  readonly doc: string;
  /** Where the semantics come from (SDM section, docs/machine.md, ...). */
  readonly ref: string;
  /** For fixed dictionaries: the values, index = code. Null for dictionaries filled at run time. */
  readonly dictionary?: readonly string[] | null;
}

export const TableName = { exits: 'exits', io: 'io', interrupts: 'interrupts', groundTruth: 'ground_truth', syscalls: 'syscalls' } as const;
export type TableName = (typeof TableName)[keyof typeof TableName];
export const TABLE_NAMES: readonly TableName[] = ['exits', 'io', 'interrupts', 'ground_truth', 'syscalls'];

/** Tables a trace has only when its run produced them (witness.arrow: the Linux kernel-module witness). */
export type OptionalTableName = 'witness';

export interface TableSpec {
  readonly name: TableName | OptionalTableName;
  readonly file: string;
  readonly doc: string;
  readonly columns: readonly ColumnSpec[];
}

/** SDM 25.8.3 (VM-entry interruption-information field, bits 10:8): interruption types by number. */
export const INTERRUPT_TYPE_NAMES: readonly string[] = INTERRUPTION_TYPE_NAMES;

/** docs/machine.md "Ground truth": GT_* event types by number (0 is not a type). */
export const GROUND_TRUTH_TYPE_NAMES: readonly string[] = [
  'invalid_0', 'proc_create', 'proc_exit', 'thread_create', 'thread_exit', 'context_switch', 'syscall', 'exec',
];

const c = (name: string, type: ColType, unit: string, doc: string, ref = '', nullable = false,
  dictionary?: readonly string[] | null): ColumnSpec => ({ name, type, unit, doc, ref, nullable, dictionary });

const TSC = 'guest TSC cycles';
const ICOUNT = 'instructions';

const TIME_COLUMNS = (what: string): ColumnSpec[] => [
  c('icount', ColType.int64, ICOUNT, `Guest instructions retired before ${what}.`, 'docs/machine.md (time derives from icount)'),
  c('ts', ColType.int64, TSC, `Guest TSC at ${what} (icount x cycles_per_instruction of the manifest).`, 'docs/machine.md boot_info.tsc_hz'),
];

/** The general-purpose registers of the snapshot, in encoding order; RSP is in the state block. */
const GPR_COLUMNS: ColumnSpec[] = ['rax', 'rcx', 'rdx', 'rbx', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15']
  .map((r) => c(r, ColType.uint64, '', `${r.toUpperCase()} at the exit (bit pattern).`, 'guest state at the exit'));

export const EXITS: TableSpec = {
  name: 'exits',
  file: 'exits.arrow',
  doc: 'One row per VM exit, in order, with the exit information fields and the guest-state snapshot.',
  columns: [
    c('seq', ColType.int64, '', '0-based sequence number of the exit in the run (row number).'),
    ...TIME_COLUMNS('the exit'),
    c('cycles', ColType.int64, 'modelled cycles', 'Modelled cycles of the run so far, including this exit\'s cost.', 'cost model (manifest.cost_model)'),
    c('cost', ColType.uint32, 'modelled cycles', 'Modelled cost of this exit: VM-exit/entry round trip + handler + hypervisor work.', 'cost model (manifest.cost_model)'),
    c('cpu', ColType.uint16, '', 'vCPU index.'),
    c('exit_reason', ColType.uint16, '', 'Basic exit reason (bits 15:0 of the exit-reason field).', 'SDM 25.9.1, appendix C'),
    c('exit_reason_name', ColType.dict, '', 'Name of the basic exit reason (dictionary index = exit_reason; see src/emulator/vmx/exitReasons.ts). Null past the table.', 'SDM appendix C table C-1; Linux VMX_EXIT_REASONS', true, EXIT_REASON_KEYS),
    c('qualification', ColType.uint64, '', 'Exit qualification (meaning depends on the reason).', 'SDM 28.2.1'),
    c('instruction_length', ColType.uint8, 'bytes', 'VM-exit instruction length; 0 when not defined for the reason.', 'SDM 28.2.4'),
    c('interruption_info', ColType.uint32, '', 'VM-exit interruption information (bit 31 valid; vector 7:0, type 10:8, error code valid 11); 0 when invalid.', 'SDM 25.9.2'),
    c('interruption_error_code', ColType.uint32, '', 'VM-exit interruption error code; meaningful only when interruption_info bits 31 and 11 are set, else 0.', 'SDM 25.9.2'),
    c('guest_linear', ColType.uint64, '', 'Guest-linear address; null when the field is not defined for this exit.', 'SDM 28.2.1', true),
    c('guest_physical', ColType.uint64, '', 'Guest-physical address (EPT violations and misconfigurations); null when not defined.', 'SDM 28.2.1', true),
    c('rip', ColType.uint64, '', 'Guest RIP of the instruction that caused the exit (or where the event hit).', 'SDM 28.3 (saving guest state)'),
    c('rsp', ColType.uint64, '', 'Guest RSP.', 'SDM 28.3'),
    c('rflags', ColType.uint64, '', 'Guest RFLAGS.', 'SDM 28.3'),
    c('cr0', ColType.uint64, '', 'Guest CR0.', 'SDM 28.3'),
    c('cr3', ColType.uint64, '', 'Guest CR3 (page-table root; identifies the address space).', 'SDM 28.3'),
    c('cr4', ColType.uint64, '', 'Guest CR4.', 'SDM 28.3'),
    c('cs', ColType.uint16, '', 'CS selector.', 'SDM 28.3'),
    c('ss', ColType.uint16, '', 'SS selector.', 'SDM 28.3'),
    c('cpl', ColType.uint8, '', 'Current privilege level (0 kernel, 3 user).', 'SDM 28.3 (SS.DPL)'),
    ...GPR_COLUMNS,
  ],
};

/**
 * The 64-bit columns of exits.arrow that hold an ExitEvent word pair (ExitEvent.words, two uint32 words each,
 * low first): column name and word offset. The writer and the exit cursor both copy through this one map.
 */
export const EXIT_WORD_COLUMNS: ReadonlyArray<readonly [column: string, word: number]> = [
  ['qualification', ExitWord.qualification], ['guest_linear', ExitWord.guestLinear],
  ['guest_physical', ExitWord.guestPhysical],
  ['rip', ExitWord.rip], ['rsp', ExitWord.rsp], ['rflags', ExitWord.rflags],
  ['cr0', ExitWord.cr0], ['cr3', ExitWord.cr3], ['cr4', ExitWord.cr4],
  ['rax', ExitWord.rax], ['rcx', ExitWord.rcx], ['rdx', ExitWord.rdx], ['rbx', ExitWord.rbx],
  ['rbp', ExitWord.rbp], ['rsi', ExitWord.rsi], ['rdi', ExitWord.rdi],
  ['r8', ExitWord.r8], ['r9', ExitWord.r9], ['r10', ExitWord.r10], ['r11', ExitWord.r11],
  ['r12', ExitWord.r12], ['r13', ExitWord.r13], ['r14', ExitWord.r14], ['r15', ExitWord.r15],
];

export const IO: TableSpec = {
  name: 'io',
  file: 'io.arrow',
  doc: 'One row per port access (IN/OUT), one row per string instruction (INS/OUTS) with its bytes.',
  columns: [
    ...TIME_COLUMNS('the access'),
    c('exit_seq', ColType.int64, '', 'seq of the exit this access caused, or -1 when it caused none (I/O not intercepted).', 'exits.seq'),
    c('port', ColType.uint16, '', 'I/O port.', 'docs/machine.md "Port I/O"'),
    c('size', ColType.uint8, 'bytes', 'Access size: 1, 2 or 4.', 'SDM 28.2.1 table 28-5 (size of access)'),
    c('direction', ColType.uint8, '', '0 = OUT (write to the device), 1 = IN (read).', 'SDM 28.2.1 table 28-5 (direction)', false),
    c('value', ColType.uint32, '', 'The value read or written (for string I/O the last element).'),
    c('data', ColType.binary, '', 'For INS/OUTS: every byte transferred; null for IN/OUT.', '', true),
    c('device', ColType.dict, '', 'Name of the device owning the port (\'none\' if unclaimed).', 'docs/machine.md "Port I/O"', false, null),
  ],
};

export const INTERRUPTS: TableSpec = {
  name: 'interrupts',
  file: 'interrupts.arrow',
  doc: 'Events injected into the guest at VM entry (or delivered external interrupts).',
  columns: [
    ...TIME_COLUMNS('the injection'),
    c('vector', ColType.uint8, '', 'Vector (0-31 exceptions, 0x20+irq devices).', 'SDM 25.8.3; docs/machine.md vectors'),
    c('type', ColType.uint8, '', 'Interruption type (0 external, 2 NMI, 3 hardware exception, 4 software interrupt, 5 privileged software exception, 6 software exception).', 'SDM 25.8.3'),
    c('type_name', ColType.dict, '', 'Name of the interruption type (dictionary index = type).', 'SDM 25.8.3', false, INTERRUPT_TYPE_NAMES),
    c('error_code', ColType.uint32, '', 'Error code delivered with the event; null when the event has none.', 'SDM 25.8.3', true),
  ],
};

export const GROUND_TRUTH: TableSpec = {
  name: 'ground_truth',
  file: 'ground_truth.arrow',
  doc: 'The guest kernel\'s own account of itself (ground-truth port 0x510). Kept apart: never an input to reconstruction.',
  columns: [
    ...TIME_COLUMNS('the report'),
    c('type', ColType.uint32, '', 'GT_* event type (1 proc_create .. 7 exec).', 'docs/machine.md "Ground truth"'),
    c('type_name', ColType.dict, '', 'Name of the event type (dictionary index = type); null for unknown types.', 'docs/machine.md', true, GROUND_TRUTH_TYPE_NAMES),
    c('pid', ColType.uint32, '', 'Process id.', 'struct gt_event'),
    c('tid', ColType.uint32, '', 'Thread id.', 'struct gt_event'),
    c('ppid', ColType.uint32, '', 'Parent pid (process events) or 0.', 'struct gt_event'),
    c('cr3', ColType.uint64, '', 'The process\'s page-table root (physical).', 'struct gt_event'),
    c('a0', ColType.uint64, '', 'Type-specific argument 0 (docs/machine.md table); the 64 bits as the guest wrote them (the analyses read a0-a2 as signed int64: a -1 argument is -1).', 'struct gt_event'),
    c('a1', ColType.uint64, '', 'Type-specific argument 1.', 'struct gt_event'),
    c('a2', ColType.uint64, '', 'Type-specific argument 2.', 'struct gt_event'),
    c('name', ColType.utf8, '', 'Program name (up to 16 bytes, NUL padding removed).', 'struct gt_event'),
  ],
};

/** docs/machine.md "Kernel-module witness": event kinds by number. */
export const WITNESS_KIND_NAMES: readonly string[] = ['start', 'fork', 'exec', 'exit', 'switch'];

export const WITNESS: TableSpec = {
  name: 'witness',
  file: 'witness.arrow',
  doc: 'The Linux guest\'s kernel-module witness (guest/linux/witness, port 0x518): one row per scheduler tracepoint hit it reported, in order. ' +
    'Present only in traces of linux:witness=on|hyperupcall. An independent second account of the process lifecycle beside ground_truth.arrow; unlike it, the guest\'s own doing (each row is an OUT that exits).',
  columns: [
    ...TIME_COLUMNS('the OUT that reported the event'),
    c('kind', ColType.uint8, '', 'Event kind: 0 start (the module began reporting), 1 fork (sched_process_fork), 2 exec (sched_process_exec), 3 exit (sched_process_exit), 4 switch (sched_switch).', 'docs/machine.md "Kernel-module witness"'),
    c('kind_name', ColType.dict, '', 'Name of the kind (dictionary index = kind); null for an unknown kind.', 'docs/machine.md', true, WITNESS_KIND_NAMES),
    c('seq', ColType.uint32, '', 'The module\'s count of events reported before this one (a gap means a lost report).', 'struct vmt_witness_event'),
    c('pid', ColType.uint32, '', 'Subject task\'s pid (Linux: thread id): the child (fork), current (exec, exit, start), next (switch).', 'struct vmt_witness_event'),
    c('tgid', ColType.uint32, '', 'Subject task\'s tgid (Linux: process id).', 'struct vmt_witness_event'),
    c('other_pid', ColType.uint32, '', 'Parent (fork), old pid (exec), 0 (exit, start), prev (switch).', 'struct vmt_witness_event'),
    c('other_tgid', ColType.uint32, '', 'Parent\'s tgid (fork), prev\'s tgid (switch), else 0.', 'struct vmt_witness_event'),
    c('arg', ColType.uint32, '', 'exit: the task\'s exit_code; switch: prev_state; start: the tracing hyperupcall\'s id or a negative errno as uint32 (0 without hyperupcall=1).', 'struct vmt_witness_event'),
    c('flags', ColType.uint32, '', 'Bit 0: the subject is a kernel thread (PF_KTHREAD); bit 1: switch by preemption; bit 2 (start): the tracing hyperupcall is registered.', 'struct vmt_witness_event'),
    c('comm', ColType.utf8, '', 'Subject task\'s comm (up to 15 bytes).', 'struct vmt_witness_event'),
    c('other_comm', ColType.utf8, '', 'Parent\'s comm (fork), prev\'s comm (switch), else empty.', 'struct vmt_witness_event'),
  ],
};

/** Interception strategies by code (src/hypervisor/interception; manifest extra.intercept names the one used). */
export const INTERCEPT_STRATEGY_NAMES: readonly string[] = ['none', 'double-swap', 'fill-the-gap', 'handler-injection', 'selective', 'nitro'];

const ARG_COLUMNS: ColumnSpec[] = ['rdi', 'rsi', 'rdx', 'r10', 'r8', 'r9'].map((r, i) =>
  c(`arg${i}`, ColType.uint64, '', `Argument ${i} (${r.toUpperCase()} at the syscall; Linux x86-64 ABI).`, 'Linux syscall ABI'));

export const SYSCALLS_TABLE: TableSpec = {
  name: 'syscalls',
  file: 'syscalls.arrow',
  doc: 'One row per system call the interception strategy saw (hardware-visible: the registers at the SYSCALL), in order. Empty with --intercept none.',
  columns: [
    ...TIME_COLUMNS('the SYSCALL instruction'),
    c('exit_seq', ColType.int64, '', 'seq of the exit that reported the syscall (the VMCALL of the planted or injected code, or the #UD of nitro).', 'exits.seq'),
    c('exits', ColType.uint8, 'exits', 'Exits this syscall costs under the strategy (double-swap and nitro 2, the others 1).', 'seed 004 section 6.2'),
    c('strategy', ColType.dict, '', 'Interception strategy that produced the row.', 'src/hypervisor/interception', false, INTERCEPT_STRATEGY_NAMES),
    c('number', ColType.uint32, '', 'System call number (RAX at the SYSCALL).', 'Linux arch/x86/entry/syscalls/syscall_64.tbl'),
    ...ARG_COLUMNS,
    c('cr3', ColType.uint64, '', 'CR3 at the syscall (the calling address space).', 'SDM 28.3'),
    c('rsp', ColType.uint64, '', 'User RSP at the SYSCALL (the calling thread\'s stack).', 'SDM SYSCALL (RSP is not switched)'),
    c('rip', ColType.uint64, '', 'User return address (RCX after SYSCALL: the instruction after it).', 'SDM SYSCALL'),
  ],
};

export const TABLES: Readonly<Record<TableName, TableSpec>> = {
  exits: EXITS, io: IO, interrupts: INTERRUPTS, ground_truth: GROUND_TRUTH, syscalls: SYSCALLS_TABLE,
};

/** Other files of a trace directory. */
export const TraceFile = {
  manifest: 'manifest.json',
  incomplete: 'incomplete',
  console: 'console.txt',
  images: 'images',
} as const;

/** Files whose names the writer owns; extra files must not use them. */
export const RESERVED_FILES: ReadonlySet<string> = new Set<string>([
  TraceFile.manifest, TraceFile.incomplete, TraceFile.console, ...TABLE_NAMES.map((t) => TABLES[t].file),
]);

export function arrowType(col: ColumnSpec): DataType {
  switch (col.type) {
    case 'int64': return new Int64();
    case 'uint64': return new Uint64();
    case 'uint32': return new Uint32();
    case 'uint16': return new Uint16();
    case 'uint8': return new Uint8();
    case 'dict': return new Dictionary(new Utf8(), new Int8(), 0);
    case 'binary': return new Binary();
    case 'utf8': return new Utf8();
  }
}

/**
 * The Arrow schema of a table. Every field carries `unit` and `description` metadata; the schema carries the
 * format version, the table name and a JSON object of units (metadata survives in pyarrow, not DataFrames:
 * the manifest repeats what matters).
 */
export function arrowSchema(t: TableSpec): Schema {
  let dictId = 0;
  const units: Record<string, string> = {};
  const fields = t.columns.map((col) => {
    let type = arrowType(col);
    // Each dictionary field of a schema needs its own id.
    if (col.type === 'dict') type = new Dictionary(new Utf8(), new Int8(), dictId++);
    if (col.unit) units[col.name] = col.unit;
    const meta = new Map<string, string>([['description', col.doc]]);
    if (col.unit) meta.set('unit', col.unit);
    return new Field(col.name, type, col.nullable, meta);
  });
  return new Schema(fields, new Map([
    ['vmtrace.format', FORMAT_NAME],
    ['vmtrace.format_version', String(FORMAT_VERSION)],
    ['vmtrace.table', t.name],
    ['vmtrace.units', JSON.stringify(units)],
  ]));
}

export function columnSpec(table: TableName, name: string): ColumnSpec | undefined {
  return TABLES[table].columns.find((col) => col.name === name);
}
