// Formats a parsed Btf the way `bpftool btf dump ... format raw` prints it (bpftool 7.1, tools/bpf/bpftool/
// btf.c dump_btf_type), so that the test can compare our reader with bpftool's line for line.

import { Btf, BtfKind, BTF_KIND_NAMES } from '../../src/introspection/Btf.js';

const q = (name: string): string => `'${name === '' ? '(anon)' : name}'`;
const INT_ENC = (e: number): string => (e & 1 ? 'SIGNED' : e & 2 ? 'CHAR' : e & 4 ? 'BOOL' : '(none)');
const FUNC_LINKAGE = ['static', 'global', 'extern'];
const VAR_LINKAGE = ['static', 'global', 'extern'];

export function bpftoolRaw(btf: Btf): string[] {
  const out: string[] = [];
  for (const t of btf.types) {
    if (t.id === 0) continue;
    const head = `[${t.id}] ${BTF_KIND_NAMES[t.kind]} ${q(t.name)}`;
    switch (t.kind) {
      case BtfKind.INT:
        out.push(`${head} size=${t.size} bits_offset=${t.intOffset} nr_bits=${t.intBits} encoding=${INT_ENC(t.intEncoding!)}`);
        break;
      case BtfKind.PTR: case BtfKind.CONST: case BtfKind.VOLATILE: case BtfKind.RESTRICT: case BtfKind.TYPEDEF: case BtfKind.TYPE_TAG:
        out.push(`${head} type_id=${t.type}`);
        break;
      case BtfKind.ARRAY:
        out.push(`${head} type_id=${t.array!.type} index_type_id=${t.array!.indexType} nr_elems=${t.array!.nelems}`);
        break;
      case BtfKind.STRUCT: case BtfKind.UNION:
        out.push(`${head} size=${t.size} vlen=${t.vlen}`);
        for (const m of t.members!) {
          out.push(`\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}${m.bitfieldSize ? ` bitfield_size=${m.bitfieldSize}` : ''}`);
        }
        break;
      case BtfKind.ENUM: case BtfKind.ENUM64:
        out.push(`${head} encoding=${t.kindFlag ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.vlen}`);
        for (const e of t.enumerators!) {
          out.push(`\t${q(e.name)} val=${e.value}${t.kind === BtfKind.ENUM64 ? (t.kindFlag ? 'LL' : 'ULL') : ''}`);
        }
        break;
      case BtfKind.FWD:
        out.push(`${head} fwd_kind=${t.kindFlag ? 'union' : 'struct'}`);
        break;
      case BtfKind.FUNC:
        out.push(`${head} type_id=${t.type} linkage=${FUNC_LINKAGE[t.vlen] ?? t.vlen}`);
        break;
      case BtfKind.FUNC_PROTO:
        out.push(`${head} ret_type_id=${t.type} vlen=${t.vlen}`);
        for (const p of t.params!) out.push(`\t${q(p.name)} type_id=${p.type}`);
        break;
      case BtfKind.VAR:
        out.push(`${head} type_id=${t.type}, linkage=${VAR_LINKAGE[t.linkage!] ?? t.linkage}`);
        break;
      case BtfKind.DATASEC:
        out.push(`${head} size=${t.size} vlen=${t.vlen}`);
        for (const v of t.vars!) out.push(`\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${BTF_KIND_NAMES[btf.get(v.type).kind]} ${q(btf.get(v.type).name)})`);
        break;
      case BtfKind.FLOAT:
        out.push(`${head} size=${t.size}`);
        break;
      case BtfKind.DECL_TAG:
        out.push(`${head} type_id=${t.type} component_idx=${t.componentIdx}`);
        break;
    }
  }
  return out;
}
