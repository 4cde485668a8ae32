// A bounded structural check of an Arrow IPC file's flatbuffer metadata (the footer, each message's header)
// before apache-arrow decodes it. Flatbuffers carry no checksums and the JS flatbuffers runtime has no
// verifier (only the C++ one has, flatbuffers/verifier.h): its generated accessors trust every offset and
// vector length. One flipped bit in a vector length (a schema's field count, a field's children, a
// record batch's buffers) made apache-arrow's decoder loop for billions of iterations (a footer of 6 kB
// kept `trace info --no-verify` busy for over 17 minutes). This check does what flatbuffers' Verifier does
// for the tables of Arrow's File.fbs, Message.fbs and Schema.fbs that the decoder reads: every table, vtable,
// string and vector lies inside the buffer (so every count is bounded by the buffer's size), nesting is at
// most MAX_DEPTH deep and at most MAX_TABLES tables are visited (so shared or cyclic offsets cannot make the
// decoder's recursion explode). It throws an Error saying what is wrong; the caller names the file.

/** Depth of nested tables (Field.children recursion); the C++ Verifier's default is 64. */
const MAX_DEPTH = 64;
/** Tables visited per buffer: the decoder visits the same ones, so this bounds its work too. */
const MAX_TABLES = 100_000;

/** Schema.fbs `Type` union members with an offset field the decoder reads (others hold scalars only). */
const TYPE_TIMESTAMP = 10;
const TYPE_UNION = 14;
/** Message.fbs `MessageHeader`. */
const HEADER_SCHEMA = 1;
const HEADER_DICTIONARY_BATCH = 2;
const HEADER_RECORD_BATCH = 3;
/** Sizes of the structs stored inline in vectors: Block (File.fbs), FieldNode and Buffer (Message.fbs, Schema.fbs). */
const BLOCK_BYTES = 24;
const FIELD_NODE_BYTES = 16;
const BUFFER_BYTES = 16;

interface Table {
  pos: number;
  vt: number;
  vtSize: number;
  inline: number;
}

class Verifier {
  private tables = 0;
  private readonly dv: DataView;

  constructor(private readonly b: Uint8Array) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  fail(why: string): never {
    throw new Error(`damaged flatbuffer metadata: ${why}`);
  }

  private need(pos: number, bytes: number, what: string): void {
    if (pos < 0 || pos + bytes > this.b.byteLength) this.fail(`${what} at ${pos} (+${bytes}) outside the ${this.b.byteLength}-byte buffer`);
  }

  /** The table the root offset points at. */
  root(): Table {
    this.need(0, 4, 'root offset');
    return this.table(this.dv.getUint32(0, true), 'root table');
  }

  table(pos: number, what: string): Table {
    if (++this.tables > MAX_TABLES) this.fail(`more than ${MAX_TABLES} tables`);
    this.need(pos, 4, what);
    const vt = pos - this.dv.getInt32(pos, true);
    this.need(vt, 4, `${what}'s vtable`);
    const vtSize = this.dv.getUint16(vt, true);
    const inline = this.dv.getUint16(vt + 2, true);
    if (vtSize < 4 || (vtSize & 1) !== 0) this.fail(`${what}'s vtable size ${vtSize}`);
    this.need(vt, vtSize, `${what}'s vtable`);
    if (inline < 4) this.fail(`${what}'s size ${inline}`);
    this.need(pos, inline, what);
    return { pos, vt, vtSize, inline };
  }

  /** Absolute position of field `id`'s inline value (`bytes` long), or -1 if the field is absent. */
  field(t: Table, id: number, bytes: number): number {
    const entry = 4 + 2 * id;
    if (entry + 2 > t.vtSize) return -1;
    const off = this.dv.getUint16(t.vt + entry, true);
    if (off === 0) return -1;
    if (off + bytes > t.inline) this.fail(`field ${id} at ${off} (+${bytes}) outside its table of ${t.inline} bytes`);
    return t.pos + off;
  }

  /** Where field `id`'s offset points (a table, vector or string), or -1 if absent. */
  private target(t: Table, id: number): number {
    const p = this.field(t, id, 4);
    return p < 0 ? -1 : p + this.dv.getUint32(p, true);
  }

  /** A sub-table field, or null if absent. */
  sub(t: Table, id: number, what: string): Table | null {
    const p = this.target(t, id);
    return p < 0 ? null : this.table(p, what);
  }

  /** A vector field of `elem`-byte elements: its element count (0 if absent), checked to fit the buffer. */
  vector(t: Table, id: number, elem: number, what: string): { start: number; n: number } {
    const p = this.target(t, id);
    if (p < 0) return { start: 0, n: 0 };
    this.need(p, 4, what);
    const n = this.dv.getUint32(p, true);
    this.need(p + 4, n * elem, `${what} of ${n} elements`);
    return { start: p + 4, n };
  }

  /** A string field: length, bytes and the terminating NUL inside the buffer. */
  string(t: Table, id: number, what: string): void {
    this.vector(t, id, 1, what);
    const p = this.target(t, id);
    if (p >= 0) this.need(p + 4 + this.dv.getUint32(p, true), 1, `${what}'s terminator`);
  }

  /** A vector of tables, each checked by `each`. */
  tableVector(t: Table, id: number, what: string, each: (t: Table) => void): void {
    const { start, n } = this.vector(t, id, 4, what);
    for (let i = 0; i < n; i++) {
      const e = start + 4 * i;
      each(this.table(e + this.dv.getUint32(e, true), `${what}[${i}]`));
    }
  }

  keyValues(t: Table, id: number): void {
    this.tableVector(t, id, 'custom_metadata', (kv) => {
      this.string(kv, 0, 'key');
      this.string(kv, 1, 'value');
    });
  }

  /** Schema.fbs Schema: endianness, fields, custom_metadata, features. */
  schema(s: Table): void {
    this.tableVector(s, 1, 'fields', (f) => this.fieldTable(f, 1));
    this.keyValues(s, 2);
    this.vector(s, 3, 8, 'features');
  }

  /** Schema.fbs Field: name, nullable, type_type, type, dictionary, children, custom_metadata. */
  private fieldTable(f: Table, depth: number): void {
    if (depth > MAX_DEPTH) this.fail(`fields nested more than ${MAX_DEPTH} deep`);
    this.string(f, 0, 'field name');
    const typeTypeAt = this.field(f, 2, 1);
    const typeType = typeTypeAt < 0 ? 0 : this.b[typeTypeAt]!;
    const type = this.sub(f, 3, 'field type');
    if (type !== null && typeType === TYPE_TIMESTAMP) this.string(type, 1, 'timezone');
    if (type !== null && typeType === TYPE_UNION) this.vector(type, 1, 4, 'union type ids');
    const dict = this.sub(f, 4, 'dictionary encoding');
    if (dict !== null) this.sub(dict, 1, 'dictionary index type');
    this.tableVector(f, 5, 'children', (c) => this.fieldTable(c, depth + 1));
    this.keyValues(f, 6);
  }

  /** Message.fbs RecordBatch: length, nodes, buffers, compression, variadicBufferCounts. */
  recordBatch(r: Table): void {
    this.vector(r, 1, FIELD_NODE_BYTES, 'nodes');
    this.vector(r, 2, BUFFER_BYTES, 'buffers');
    this.sub(r, 3, 'compression');
    this.vector(r, 4, 8, 'variadicBufferCounts');
  }
}

/** Check a File.fbs Footer (version, schema, dictionaries, recordBatches, custom_metadata). */
export function checkFooter(bytes: Uint8Array): void {
  const v: Verifier = new Verifier(bytes); // annotated: narrowing after v.fail (never) needs it
  const footer = v.root();
  const schema = v.sub(footer, 1, 'schema');
  if (schema === null) v.fail('the footer has no schema');
  v.schema(schema);
  v.vector(footer, 2, BLOCK_BYTES, 'dictionaries');
  v.vector(footer, 3, BLOCK_BYTES, 'recordBatches');
  v.keyValues(footer, 4);
}

/** Check a Message.fbs Message (version, header_type, header, bodyLength, custom_metadata). */
export function checkMessage(bytes: Uint8Array): void {
  const v: Verifier = new Verifier(bytes); // annotated: narrowing after v.fail (never) needs it
  const msg = v.root();
  const typeAt = v.field(msg, 1, 1);
  const type = typeAt < 0 ? 0 : bytes[typeAt]!;
  v.field(msg, 3, 8);
  v.keyValues(msg, 4);
  const header = v.sub(msg, 2, 'message header');
  if (header === null) v.fail('the message has no header');
  if (type === HEADER_SCHEMA) v.schema(header);
  else if (type === HEADER_RECORD_BATCH) v.recordBatch(header);
  else if (type === HEADER_DICTIONARY_BATCH) {
    const data = v.sub(header, 1, 'dictionary data');
    if (data !== null) v.recordBatch(data);
  } else v.fail(`message header type ${type} (not a schema, dictionary batch or record batch)`);
}
