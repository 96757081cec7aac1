/**
 * The reply side of RESP. Commands return a {@link Reply} value, never bytes, so one command table
 * serves RESP2 and RESP3 (after `HELLO 3`): only {@link encode} knows the difference. RESP3 adds
 * a null type, maps and doubles; in RESP2 a map is a flat array of key, value, key, value.
 */

/** A reply: a string is a bulk string, a number an integer, null a null (bulk or array). */
export type Reply =
  | string
  /** A bulk string of raw bytes (ECHO of binary input). */
  | Buffer
  | number
  | null
  | Reply[]
  | { simple: string }
  | { error: string }
  | { map: Array<[Reply, Reply]> }
  /** A null where RESP2 says "null array" (*-1): BRPOP timeouts, XREADGROUP with nothing. */
  | { nullArray: true };

export type Proto = 2 | 3;

export const OK: Reply = { simple: 'OK' };

export function simple(text: string): Reply {
  return { simple: text };
}

/** An error reply; `text` begins with its prefix (`ERR`, `NOAUTH`, ...). CR and LF are dropped. */
export function errorReply(text: string): Reply {
  return { error: text };
}

export function map(entries: Array<[Reply, Reply]>): Reply {
  return { map: entries };
}

export const NULL_ARRAY: Reply = { nullArray: true };

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

function encodeInto(r: Reply, proto: Proto, out: Array<string | Buffer>): void {
  if (r === null) {
    out.push(proto === 3 ? '_\r\n' : '$-1\r\n');
  } else if (typeof r === 'string') {
    out.push(`$${Buffer.byteLength(r)}\r\n`, r, '\r\n');
  } else if (Buffer.isBuffer(r)) {
    out.push(`$${r.length}\r\n`, r, '\r\n');
  } else if (typeof r === 'number') {
    out.push(Number.isInteger(r) ? `:${r}\r\n` : proto === 3 ? `,${r}\r\n` : `$${String(r).length}\r\n${r}\r\n`);
  } else if (Array.isArray(r)) {
    out.push(`*${r.length}\r\n`);
    for (const item of r) encodeInto(item, proto, out);
  } else if ('simple' in r) {
    out.push(`+${oneLine(r.simple)}\r\n`);
  } else if ('error' in r) {
    out.push(`-${oneLine(r.error)}\r\n`);
  } else if ('map' in r) {
    out.push(proto === 3 ? `%${r.map.length}\r\n` : `*${r.map.length * 2}\r\n`);
    for (const [k, v] of r.map) {
      encodeInto(k, proto, out);
      encodeInto(v, proto, out);
    }
  } else {
    out.push(proto === 3 ? '_\r\n' : '*-1\r\n');
  }
}

/** The bytes of one reply. */
export function encode(r: Reply, proto: Proto = 2): Buffer {
  const out: Array<string | Buffer> = [];
  encodeInto(r, proto, out);
  return Buffer.concat(out.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}
