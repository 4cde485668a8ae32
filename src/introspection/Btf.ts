// BTF, the BPF Type Format: the type information a kernel built with CONFIG_DEBUG_INFO_BTF carries in its
// `.BTF` section (what /sys/kernel/btf/vmlinux serves). Layout per Linux's Documentation/bpf/btf.rst
// ("2. BTF Type and String Encoding"): a header, then a type section of variable-length records (type ids
// count from 1; id 0 is void) and a string section of NUL-terminated names.
//
// This reader keeps the records as parsed objects (a kernel has ~100k types, parsed in tens of ms) and answers
// the questions introspection asks: the size of a type, and where a member (a dotted path through nested and
// anonymous structs and unions) sits, with its bitfield if any.

import { IntrospectionError } from './IntrospectionError.js';

/** BTF_KIND_* numbers (include/uapi/linux/btf.h). */
export const BtfKind = {
  UNKN: 0, INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10,
  RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;
export type BtfKind = (typeof BtfKind)[keyof typeof BtfKind];

export const BTF_KIND_NAMES: readonly string[] = Object.keys(BtfKind);

const BTF_MAGIC = 0xeb9f;

/** A struct/union member (`bitOffset` from the start of the enclosing type; `bitfieldSize` 0 if not a bitfield). */
export interface BtfMember {
  name: string;
  type: number;
  bitOffset: number;
  bitfieldSize: number;
}

/** One BTF type record. Kind-specific fields are present where the kind has them. */
export interface BtfType {
  id: number;
  kind: BtfKind;
  name: string;
  /** info bits 0-15: member/parameter/enumerator count (FUNC: linkage). */
  vlen: number;
  kindFlag: boolean;
  /** size in bytes (INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT) */
  size: number;
  /** the referenced type (PTR, TYPEDEF, qualifiers, FUNC, FUNC_PROTO's return, VAR, DECL_TAG, TYPE_TAG) */
  type: number;
  /** INT: encoding bits (1 signed, 2 char, 4 bool), bit offset and bit count */
  intEncoding?: number;
  intOffset?: number;
  intBits?: number;
  /** ARRAY */
  array?: { type: number; indexType: number; nelems: number };
  /** STRUCT, UNION */
  members?: BtfMember[];
  /** ENUM, ENUM64 (values as bigint: ENUM64 needs 64 bits; ENUM values signed when kindFlag says so) */
  enumerators?: { name: string; value: bigint }[];
  /** FUNC_PROTO */
  params?: { name: string; type: number }[];
  /** VAR: linkage */
  linkage?: number;
  /** DATASEC */
  vars?: { type: number; offset: number; size: number }[];
  /** DECL_TAG */
  componentIdx?: number;
}

/** Where a member lives: byte offset (floor of the bit offset), the bit layout, and the member's type id. */
export interface MemberLocation {
  offset: number;
  bitOffset: number;
  bitfieldSize: number;
  type: number;
  size: number;
}

const QUALIFIERS: ReadonlySet<number> = new Set([BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG]);

export class Btf {
  /** types[id]; types[0] is void. */
  readonly types: BtfType[];
  private byName: Map<string, number[]> | undefined;

  private constructor(types: BtfType[]) {
    this.types = types;
  }

  /** Parse a raw BTF blob (the `.BTF` section's bytes). Throws IntrospectionError on a malformed blob. */
  static parse(bytes: Uint8Array): Btf {
    const fail = (what: string): never => {
      throw new IntrospectionError(`BTF: ${what}`);
    };
    if (bytes.length < 24) fail(`${bytes.length} bytes is too short for a header`);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (v.getUint16(0, true) !== BTF_MAGIC) fail(`bad magic 0x${v.getUint16(0, true).toString(16)} (want 0xeb9f, little-endian)`);
    if (bytes[2] !== 1) fail(`unsupported version ${bytes[2]}`);
    const hdrLen = v.getUint32(4, true);
    const typeOff = v.getUint32(8, true);
    const typeLen = v.getUint32(12, true);
    const strOff = v.getUint32(16, true);
    const strLen = v.getUint32(20, true);
    const tStart = hdrLen + typeOff;
    const sStart = hdrLen + strOff;
    if (hdrLen < 24 || tStart + typeLen > bytes.length || sStart + strLen > bytes.length) {
      fail(`sections (types ${tStart}+${typeLen}, strings ${sStart}+${strLen}) outside the ${bytes.length}-byte blob`);
    }
    const decoder = new TextDecoder();
    const strings = new Map<number, string>();
    const str = (off: number): string => {
      const cached = strings.get(off);
      if (cached !== undefined) return cached;
      if (off >= strLen) fail(`string offset ${off} outside the ${strLen}-byte string section`);
      let e = sStart + off;
      while (e < sStart + strLen && bytes[e] !== 0) e++;
      const s = decoder.decode(bytes.subarray(sStart + off, e));
      strings.set(off, s);
      return s;
    };
    const types: BtfType[] = [{ id: 0, kind: BtfKind.UNKN, name: 'void', vlen: 0, kindFlag: false, size: 0, type: 0 }];
    let p = tStart;
    const end = tStart + typeLen;
    const u32 = (at: number): number => {
      if (at + 4 > end) fail(`type ${types.length} runs past the type section`);
      return v.getUint32(at, true);
    };
    while (p < end) {
      const id = types.length;
      const nameOff = u32(p);
      const info = u32(p + 4);
      const sizeOrType = u32(p + 8);
      p += 12;
      const kind = ((info >>> 24) & 0x1f) as BtfKind;
      const vlen = info & 0xffff;
      const kindFlag = info >>> 31 === 1;
      const t: BtfType = { id, kind, name: str(nameOff), vlen, kindFlag, size: 0, type: 0 };
      switch (kind) {
        case BtfKind.INT: {
          t.size = sizeOrType;
          const e = u32(p);
          p += 4;
          t.intEncoding = (e >>> 24) & 0x0f;
          t.intOffset = (e >>> 16) & 0xff;
          t.intBits = e & 0xff;
          break;
        }
        case BtfKind.PTR: case BtfKind.FWD: case BtfKind.TYPEDEF: case BtfKind.VOLATILE: case BtfKind.CONST:
        case BtfKind.RESTRICT: case BtfKind.FUNC: case BtfKind.TYPE_TAG:
          t.type = sizeOrType;
          break;
        case BtfKind.ARRAY:
          t.array = { type: u32(p), indexType: u32(p + 4), nelems: u32(p + 8) };
          p += 12;
          break;
        case BtfKind.STRUCT: case BtfKind.UNION: {
          t.size = sizeOrType;
          const members: BtfMember[] = [];
          for (let i = 0; i < vlen; i++, p += 12) {
            const off = u32(p + 8);
            members.push({
              name: str(u32(p)),
              type: u32(p + 4),
              bitOffset: kindFlag ? off & 0xffffff : off,
              bitfieldSize: kindFlag ? off >>> 24 : 0,
            });
          }
          t.members = members;
          break;
        }
        case BtfKind.ENUM: {
          t.size = sizeOrType;
          t.enumerators = [];
          for (let i = 0; i < vlen; i++, p += 8) {
            const raw = u32(p + 4);
            t.enumerators.push({ name: str(u32(p)), value: kindFlag ? BigInt(raw | 0) : BigInt(raw) });
          }
          break;
        }
        case BtfKind.ENUM64: {
          t.size = sizeOrType;
          t.enumerators = [];
          for (let i = 0; i < vlen; i++, p += 12) {
            const value = (BigInt(u32(p + 8)) << 32n) | BigInt(u32(p + 4));
            t.enumerators.push({ name: str(u32(p)), value: kindFlag ? BigInt.asIntN(64, value) : value });
          }
          break;
        }
        case BtfKind.FUNC_PROTO:
          t.type = sizeOrType;
          t.params = [];
          for (let i = 0; i < vlen; i++, p += 8) t.params.push({ name: str(u32(p)), type: u32(p + 4) });
          break;
        case BtfKind.VAR:
          t.type = sizeOrType;
          t.linkage = u32(p);
          p += 4;
          break;
        case BtfKind.DATASEC:
          t.size = sizeOrType;
          t.vars = [];
          for (let i = 0; i < vlen; i++, p += 12) t.vars.push({ type: u32(p), offset: u32(p + 4), size: u32(p + 8) });
          break;
        case BtfKind.FLOAT:
          t.size = sizeOrType;
          break;
        case BtfKind.DECL_TAG:
          t.type = sizeOrType;
          t.componentIdx = u32(p) | 0;
          p += 4;
          break;
        default:
          fail(`type ${id} has unknown kind ${kind}`);
      }
      types.push(t);
    }
    if (p !== end) fail(`type section ends mid-record (${p - end} bytes over)`);
    return new Btf(types);
  }

  /** The type with this id (0 is void). */
  get(id: number): BtfType {
    const t = this.types[id];
    if (t === undefined) throw new IntrospectionError(`BTF: no type id ${id} (${this.types.length - 1} types)`);
    return t;
  }

  /** Ids of the named types of one kind (several anonymous or same-named types may exist). */
  find(name: string, kind?: BtfKind): number[] {
    if (this.byName === undefined) {
      this.byName = new Map();
      for (const t of this.types) {
        if (t.name === '' || t.id === 0) continue;
        const list = this.byName.get(t.name);
        if (list) list.push(t.id);
        else this.byName.set(t.name, [t.id]);
      }
    }
    const ids = this.byName.get(name) ?? [];
    return kind === undefined ? ids : ids.filter((id) => this.types[id].kind === kind);
  }

  /** The one struct of this name (a full definition, not a forward declaration). */
  struct(name: string): BtfType {
    const ids = this.find(name, BtfKind.STRUCT);
    if (ids.length === 0) throw new IntrospectionError(`BTF: no struct ${name}`);
    return this.types[ids[0]];
  }

  /** Follow typedefs and qualifiers to the underlying type. */
  resolve(id: number): BtfType {
    let t = this.get(id);
    for (let guard = 0; QUALIFIERS.has(t.kind); guard++) {
      if (guard > 64) throw new IntrospectionError(`BTF: type ${id} is a qualifier loop`);
      t = this.get(t.type);
    }
    return t;
  }

  /** Size in bytes of a type (BTF's btf__resolve_size: qualifiers followed, arrays multiplied, pointers 8). */
  sizeOf(id: number): number {
    const t = this.resolve(id);
    switch (t.kind) {
      case BtfKind.PTR: return 8;
      case BtfKind.ARRAY: return t.array!.nelems * this.sizeOf(t.array!.type);
      case BtfKind.INT: case BtfKind.STRUCT: case BtfKind.UNION: case BtfKind.ENUM: case BtfKind.ENUM64:
      case BtfKind.DATASEC: case BtfKind.FLOAT:
        return t.size;
      default:
        throw new IntrospectionError(`BTF: type ${id} (${BTF_KIND_NAMES[t.kind]} '${t.name}') has no size`);
    }
  }

  /**
   * Locate a member of a struct or union by a dotted path (`thread.sp`, `mm`, `signal`), looking through
   * anonymous struct/union members as C does (`task_struct.thread_node` sits in no named sub-struct, but
   * `rcu` and `thread_node` may share an anonymous union in some kernels).
   */
  member(container: BtfType | string, path: string): MemberLocation {
    let t = typeof container === 'string' ? this.struct(container) : container;
    let bitBase = 0;
    let found: BtfMember | undefined;
    for (const name of path.split('.')) {
      t = this.resolve(t.id);
      if (t.kind !== BtfKind.STRUCT && t.kind !== BtfKind.UNION) {
        throw new IntrospectionError(`BTF: '${name}' in '${path}': ${BTF_KIND_NAMES[t.kind]} '${t.name}' has no members`);
      }
      const hit = this.findMember(t, name);
      if (hit === null) throw new IntrospectionError(`BTF: ${BTF_KIND_NAMES[t.kind].toLowerCase()} ${t.name || '(anon)'} has no member '${name}' (path '${path}')`);
      bitBase += hit.bitOffset;
      found = hit.member;
      t = this.get(found.type);
    }
    const m = found!;
    return {
      offset: Math.floor(bitBase / 8),
      bitOffset: bitBase,
      bitfieldSize: m.bitfieldSize,
      type: m.type,
      size: m.bitfieldSize !== 0 ? 0 : this.sizeOf(m.type),
    };
  }

  /** Byte offset of a member path (convenience for non-bitfields). */
  offsetOf(container: BtfType | string, path: string): number {
    const loc = this.member(container, path);
    if (loc.bitfieldSize !== 0 || loc.bitOffset % 8 !== 0) throw new IntrospectionError(`BTF: '${path}' is a bitfield`);
    return loc.offset;
  }

  private findMember(t: BtfType, name: string): { member: BtfMember; bitOffset: number } | null {
    for (const m of t.members!) {
      if (m.name === name) return { member: m, bitOffset: m.bitOffset };
    }
    for (const m of t.members!) {
      if (m.name !== '') continue;
      const inner = this.resolve(m.type);
      if (inner.kind !== BtfKind.STRUCT && inner.kind !== BtfKind.UNION) continue;
      const hit = this.findMember(inner, name);
      if (hit !== null) return { member: hit.member, bitOffset: m.bitOffset + hit.bitOffset };
    }
    return null;
  }
}
