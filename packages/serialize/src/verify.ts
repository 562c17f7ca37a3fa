// A small flatbuffers verifier. The flatbuffers JS runtime trusts its input: a lying offset reads
// `undefined` past the end and yields garbage lengths (or a multi-gigabyte string loop). Frames arrive
// from other processes, so every offset a table accessor will follow is bounds-checked here first.
import { SerializationError } from './errors.js';

/** How a field is stored, which decides what must be in bounds. */
export type FieldSpec =
  | { readonly kind: 'scalar'; readonly size: number }
  | { readonly kind: 'string' }
  | { readonly kind: 'vector'; readonly elementSize: number }
  /** A vector of tables, each described by `fields`. */
  | { readonly kind: 'tables'; readonly fields: readonly FieldSpec[] };

function corrupt(what: string, message: string): SerializationError {
  return new SerializationError('SERIALIZE_CORRUPT', `${what}: ${message}`);
}

function u16(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16) | ((b[at + 3] ?? 0) << 24)) >>> 0;
}

function i32(b: Uint8Array, at: number): number {
  return u32(b, at) | 0;
}

/**
 * Verifies a finished buffer whose root table is described by `fields` (in field-id order), with a 4-byte
 * file identifier after the root offset, or none when `identifier` is null. Returns normally when every
 * accessor of those fields stays inside `bytes`.
 *
 * Checks: root offset, identifier, vtable bounds and size, table bounds (the table's inline size from the
 * vtable), each present field within the table, each string/vector (length prefix, elements, a string's
 * terminator) inside the buffer, and each table of a vector of tables, recursively.
 */
export function verifyRootTable(
  bytes: Uint8Array,
  identifier: string | null,
  fields: readonly FieldSpec[],
  what: string,
): void {
  const n = bytes.byteLength;
  const headerSize = identifier === null ? 4 : 8;
  if (n < headerSize) {
    throw new SerializationError('SERIALIZE_TRUNCATED', `${what}: ${n} bytes is too short for a flatbuffer`);
  }
  if (identifier !== null) {
    for (let i = 0; i < 4; i++) {
      if (bytes[4 + i] !== identifier.charCodeAt(i)) {
        throw new SerializationError(
          'SERIALIZE_BAD_MAGIC',
          `${what}: file identifier is not '${identifier}' (not ProxyStore data, or another schema)`,
        );
      }
    }
  }
  const table = u32(bytes, 0);
  if (table < headerSize || table + 4 > n) throw corrupt(what, `root table offset ${table} is out of bounds`);
  verifyTable(bytes, table, fields, what, 0);
}

/** Nesting deeper than this is refused rather than followed (a lying offset could loop). */
const MAX_DEPTH = 8;

function verifyTable(bytes: Uint8Array, table: number, fields: readonly FieldSpec[], what: string, depth: number): void {
  const n = bytes.byteLength;
  if (depth > MAX_DEPTH) throw corrupt(what, `tables nest deeper than ${MAX_DEPTH}`);
  const vtable = table - i32(bytes, table);
  if (vtable < 0 || vtable + 4 > n) throw corrupt(what, `vtable offset ${vtable} is out of bounds`);
  const vtableSize = u16(bytes, vtable);
  const tableSize = u16(bytes, vtable + 2);
  if (vtableSize < 4 || vtableSize % 2 !== 0 || vtable + vtableSize > n) {
    throw corrupt(what, `vtable size ${vtableSize} is invalid`);
  }
  if (tableSize < 4 || table + tableSize > n) throw corrupt(what, `table size ${tableSize} is invalid`);
  const present = (vtableSize - 4) / 2;
  fields.forEach((spec, id) => {
    if (id >= present) return; // absent from an older writer's vtable: the accessor returns the default
    const fieldOffset = u16(bytes, vtable + 4 + 2 * id);
    if (fieldOffset === 0) return;
    const size = spec.kind === 'scalar' ? spec.size : 4;
    if (fieldOffset < 4 || fieldOffset + size > tableSize) {
      throw corrupt(what, `field ${id} at ${fieldOffset} lies outside its ${tableSize}-byte table`);
    }
    if (spec.kind === 'scalar') return;
    const at = table + fieldOffset;
    const target = at + u32(bytes, at);
    if (target + 4 > n) throw corrupt(what, `field ${id} points past the end`);
    const length = u32(bytes, target);
    const elementSize = spec.kind === 'string' ? 1 : spec.kind === 'tables' ? 4 : spec.elementSize;
    // A string also carries a NUL terminator after its bytes.
    const end = target + 4 + length * elementSize + (spec.kind === 'string' ? 1 : 0);
    if (end > n) throw corrupt(what, `field ${id} declares ${length} elements, past the end of ${n} bytes`);
    if (spec.kind !== 'tables') return;
    for (let i = 0; i < length; i++) {
      const slot = target + 4 + 4 * i;
      const element = slot + u32(bytes, slot);
      if (element + 4 > n) throw corrupt(what, `table ${i} of field ${id} points past the end`);
      verifyTable(bytes, element, spec.fields, what, depth + 1);
    }
  });
}
