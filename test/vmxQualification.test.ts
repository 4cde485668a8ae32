// Exit-qualification encodings against worked examples derived by hand from the SDM tables (vol. 3C
// 28.2.1: Table 28-3 control-register accesses, 28-4 MOV DR, 28-5 I/O instructions, 28-7 EPT violations,
// 28-1 debug exceptions, 28-2 task switches; interruption information Tables 25-17/25-19/25-20), and
// decoded with the field extractions KVM uses (arch/x86/kvm/vmx/vmx.c handle_io, handle_cr, handle_dr,
// handle_ept_violation), an independent reader of the same formats.

import { describe, expect, it } from 'vitest';
import {
  CrAccessType,
  DebugQual,
  EptQual,
  InterruptionType,
  LmswOperand,
  Rwx,
  TaskSwitchSource,
  crAccessQualification,
  debugExceptionQualification,
  decodeCrAccessQualification,
  decodeEptViolationQualification,
  decodeInterruptionInfo,
  decodeIoQualification,
  encodeInterruptionInfo,
  eptViolationQualification,
  exceptionHasErrorCode,
  exceptionInterruptionType,
  ioQualification,
  movDrQualification,
  taskSwitchQualification,
} from '../src/emulator/vmx/qualification.js';

describe('I/O instruction qualification (Table 28-5)', () => {
  // [description, port, size, in, string, rep, immediate, expected]
  const examples = [
    ['in al, dx (DX=0x3f8): size 0, IN (bit 3), port 0x3f8', 0x3f8, 1, true, false, false, false, 0x03f80008],
    ['out 0x80, al: size 0, OUT, immediate (bit 6)', 0x80, 1, false, false, false, true, 0x00800040],
    ['out dx, eax (DX=0x500): size 3', 0x500, 4, false, false, false, false, 0x05000003],
    ['rep insw (DX=0x1f0): size 1, IN, string (bit 4), REP (bit 5)', 0x1f0, 2, true, true, true, false, 0x01f00039],
    ['rep outsd (DX=0x1f0): size 3, OUT, string, REP', 0x1f0, 4, false, true, true, false, 0x01f00033],
    ['in eax, dx (DX=0xc00c): port sets bit 31', 0xc00c, 4, true, false, false, false, 0xc00c000b],
    ['outsb without REP (DX=0x3f8)', 0x3f8, 1, false, true, false, false, 0x03f80010],
  ] as const;

  for (const [what, port, size, isIn, isString, isRep, imm, expected] of examples) {
    it(what, () => {
      const q = ioQualification(port, size, isIn, isString, isRep, imm);
      expect(q).toBe(expected);
      expect(q).toBeGreaterThanOrEqual(0); // uint32, never a negative int32
      // KVM handle_io: string = q & 16, size = (q & 7) + 1, in = q & 8, port = q >> 16.
      expect((q & 7) + 1).toBe(size);
      expect((q & 8) !== 0).toBe(isIn);
      expect((q & 16) !== 0).toBe(isString);
      expect(q >>> 16).toBe(port);
      expect(decodeIoQualification(q)).toEqual({ port, size, isIn, isString, isRep, immediate: imm });
    });
  }

  it('rejects sizes other than 1, 2, 4', () => {
    expect(() => ioQualification(0x80, 3, false, false, false, true)).toThrow(RangeError);
  });
});

describe('control-register access qualification (Table 28-3)', () => {
  it('MOV to CR3 from RAX: CR 3, type 0, GPR 0', () => {
    expect(crAccessQualification(3, CrAccessType.movToCr, 0)).toBe(0x3);
  });
  it('MOV from CR3 into RBX: type 1 (bits 5:4 = 01), GPR 3 (bits 11:8)', () => {
    expect(crAccessQualification(3, CrAccessType.movFromCr, 3)).toBe(0x313);
  });
  it('MOV to CR0 from R12 and MOV to CR8 from R15', () => {
    expect(crAccessQualification(0, CrAccessType.movToCr, 12)).toBe(0xc00);
    expect(crAccessQualification(8, CrAccessType.movToCr, 15)).toBe(0xf08);
    expect(crAccessQualification(4, CrAccessType.movFromCr, 7)).toBe(0x714);
  });
  it('CLTS: type 2, CR number and GPR cleared', () => {
    expect(crAccessQualification(0, CrAccessType.clts)).toBe(0x20);
  });
  it('LMSW: type 3, operand type bit 6, source data in 31:16', () => {
    expect(crAccessQualification(0, CrAccessType.lmsw, 0, LmswOperand.register, 0x0001)).toBe(0x00010030);
    expect(crAccessQualification(0, CrAccessType.lmsw, 0, LmswOperand.memory, 0x000f)).toBe(0x000f0070);
    expect(crAccessQualification(0, CrAccessType.lmsw, 0, LmswOperand.register, 0x8001)).toBe(0x80010030);
  });
  it('decodes as KVM handle_cr does', () => {
    for (const [cr, type, gpr] of [[0, 0, 5], [3, 1, 14], [4, 0, 9], [8, 1, 0]] as const) {
      const q = crAccessQualification(cr, type, gpr);
      // KVM: cr = q & 15; reg = (q >> 8) & 15; switch ((q >> 4) & 3).
      expect(q & 15).toBe(cr);
      expect((q >> 8) & 15).toBe(gpr);
      expect((q >> 4) & 3).toBe(type);
      expect(decodeCrAccessQualification(q)).toEqual({ cr, access: type, lmswOperand: 0, gpr, lmswSource: 0 });
    }
    // KVM LMSW: val = (q >> LMSW_SOURCE_DATA_SHIFT(16)) & 0x0f.
    const q = crAccessQualification(0, CrAccessType.lmsw, 0, LmswOperand.register, 0x000b);
    expect((q >>> 16) & 0x0f).toBe(0xb);
  });
  it('rejects control registers VT-x does not report', () => {
    expect(() => crAccessQualification(2, CrAccessType.movToCr, 0)).toThrow(RangeError);
  });
});

describe('MOV DR, debug-exception and task-switch qualifications (Tables 28-4, 28-1, 28-2)', () => {
  it('MOV DR: DR number 2:0, direction bit 4 (1 = from DR), GPR 11:8', () => {
    expect(movDrQualification(7, false, 0)).toBe(0x007); // mov dr7, rax
    expect(movDrQualification(6, true, 1)).toBe(0x116); // mov rcx, dr6
    // KVM handle_dr: dr = q & 7 (DEBUG_REG_ACCESS_NUM), reg = (q >> 8) & 15, direction = q & 16.
    const q = movDrQualification(3, true, 13);
    expect([q & 7, (q >> 8) & 15, (q & 16) !== 0]).toEqual([3, 13, true]);
  });
  it('debug exceptions: B0-B3 in 3:0, BD bit 13, BS bit 14', () => {
    expect(debugExceptionQualification(0, false, true)).toBe(0x4000); // single step
    expect(debugExceptionQualification(0b0101, false, false)).toBe(0x5);
    expect(debugExceptionQualification(0, true, false)).toBe(DebugQual.BD);
  });
  it('task switch: selector 15:0, source 31:30', () => {
    expect(taskSwitchQualification(0x28, TaskSwitchSource.jmp)).toBe(0x80000028);
    expect(taskSwitchQualification(0x30, TaskSwitchSource.idtTaskGate)).toBe(0xc0000030);
    expect(taskSwitchQualification(0x18, TaskSwitchSource.call)).toBe(0x18);
    expect(taskSwitchQualification(0x20, TaskSwitchSource.iret)).toBe(0x40000020);
  });
});

describe('EPT-violation qualification (Table 28-7)', () => {
  it('write to a read-only page, linear address valid, access to the translation', () => {
    // bit 1 (write) | bit 3 (readable) | bit 7 | bit 8
    expect(eptViolationQualification(Rwx.W, Rwx.R, true, true)).toBe(0x18a);
  });
  it('fetch from a readable+writable, non-executable page', () => {
    expect(eptViolationQualification(Rwx.X, Rwx.R | Rwx.W, true, true)).toBe(0x19c);
  });
  it('read of a not-present page during a guest page walk (bit 8 clear)', () => {
    expect(eptViolationQualification(Rwx.R, 0, true, false)).toBe(0x81);
  });
  it('read of an execute-only page', () => {
    expect(eptViolationQualification(Rwx.R, Rwx.X, true, true)).toBe(0x1a1);
  });
  it('bit 8 is only set together with bit 7; NMI unblocking is bit 12', () => {
    expect(eptViolationQualification(Rwx.R, 0, false, true)).toBe(0x1);
    expect(eptViolationQualification(Rwx.W, Rwx.R, true, true, true)).toBe(0x118a);
  });
  it('decodes as KVM handle_ept_violation reads it', () => {
    const q = eptViolationQualification(Rwx.W, Rwx.R | Rwx.X, true, true);
    // KVM: EPT_VIOLATION_ACC_{READ,WRITE,INSTR} bits 0-2, EPT_VIOLATION_{READABLE,WRITABLE,EXECUTABLE}
    // bits 3-5, EPT_VIOLATION_GVA_IS_VALID bit 7, EPT_VIOLATION_GVA_TRANSLATED bit 8.
    expect([q & 1, (q >> 1) & 1, (q >> 2) & 1]).toEqual([0, 1, 0]);
    expect([(q >> 3) & 1, (q >> 4) & 1, (q >> 5) & 1]).toEqual([1, 0, 1]);
    expect([(q >> 7) & 1, (q >> 8) & 1]).toEqual([1, 1]);
    expect(q & EptQual.TRANSLATED).toBe(EptQual.TRANSLATED);
    expect(decodeEptViolationQualification(q)).toEqual({
      access: Rwx.W,
      perm: Rwx.R | Rwx.X,
      linearValid: true,
      translated: true,
      nmiUnblocking: false,
    });
  });
});

describe('interruption information (Tables 25-17, 25-19, 25-20)', () => {
  it('worked examples', () => {
    // #PF: vector 14, type 3 (hardware exception), error code valid (bit 11), valid (bit 31).
    expect(encodeInterruptionInfo(14, InterruptionType.hardwareException, true)).toBe(0x80000b0e);
    // #BP from INT3: software exception (type 6), no error code.
    expect(encodeInterruptionInfo(3, InterruptionType.softwareException, false)).toBe(0x80000603);
    // External interrupt, vector 0x20 (the timer).
    expect(encodeInterruptionInfo(0x20, InterruptionType.externalInterrupt, false)).toBe(0x80000020);
    // NMI.
    expect(encodeInterruptionInfo(2, InterruptionType.nmi, false)).toBe(0x80000202);
    // #GP with error code and NMI unblocking due to IRET (bit 12).
    expect(encodeInterruptionInfo(13, InterruptionType.hardwareException, true, true)).toBe(0x80001b0d);
    // INT 0x80 in IDT-vectoring info: software interrupt (type 4).
    expect(encodeInterruptionInfo(0x80, InterruptionType.softwareInterrupt, false)).toBe(0x80000480);
  });

  it('round-trips every vector and type', () => {
    const types = Object.values(InterruptionType);
    for (let vector = 0; vector < 256; vector++) {
      for (const type of types) {
        for (const ec of [false, true]) {
          for (const nmi of [false, true]) {
            const info = encodeInterruptionInfo(vector, type, ec, nmi);
            expect(info >>> 0).toBe(info);
            expect(decodeInterruptionInfo(info)).toEqual({ valid: true, vector, type, errorCodeValid: ec, nmiUnblocking: nmi });
          }
        }
      }
    }
    expect(decodeInterruptionInfo(0).valid).toBe(false);
    expect(() => encodeInterruptionInfo(256, InterruptionType.externalInterrupt, false)).toThrow(RangeError);
  });

  it('error-code vectors and instruction-generated exception types', () => {
    const withCode = [];
    for (let v = 0; v < 32; v++) if (exceptionHasErrorCode(v)) withCode.push(v);
    expect(withCode).toEqual([8, 10, 11, 12, 13, 14, 17, 21]);
    expect(exceptionInterruptionType(3, true)).toBe(InterruptionType.softwareException);
    expect(exceptionInterruptionType(4, true)).toBe(InterruptionType.softwareException);
    expect(exceptionInterruptionType(1, true)).toBe(InterruptionType.privilegedSoftwareException);
    expect(exceptionInterruptionType(3, false)).toBe(InterruptionType.hardwareException);
    expect(exceptionInterruptionType(14, false)).toBe(InterruptionType.hardwareException);
    expect(exceptionInterruptionType(2, false)).toBe(InterruptionType.nmi);
  });
});
