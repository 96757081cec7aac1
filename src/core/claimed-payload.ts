/**
 * The payload of a claimed job, handed out as its JSON text and parsed only when someone reads it.
 *
 * A claim copies each job's payload out of the state (the caller must never hold a reference into
 * it). The copy used to be `JSON.parse(payloadJson(job))` inside the claim op, on the commit path,
 * and the HTTP route then turned the parsed copy back into JSON for its answer: a payload was
 * parsed and serialised once more per delivery for nothing. Now the claimed job keeps the text
 * (cached on the record since its push, core/job-json.ts) and its `payload` property parses it on
 * first read, so:
 *
 * - wires that answer in JSON (the HTTP API) write the text as it is ({@link lazyPayloadText});
 * - everyone else (embedded callers, gRPC/Connect, RESP) reads `payload` as before and gets a
 *   fresh copy, parsed once, off the commit loop.
 *
 * `payload` stays an own, enumerable property, so spreads, `structuredClone` and JSON.stringify
 * see it as before; the first read or write turns it into a plain data property.
 */
const TEXT: unique symbol = Symbol('bucketq.claimedPayloadText');

type Holder = { payload?: unknown; [TEXT]?: string | undefined };

function settle(target: Holder, value: unknown): void {
  Object.defineProperty(target, 'payload', { value, writable: true, enumerable: true, configurable: true });
  target[TEXT] = undefined;
}

const ACCESSOR: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: Holder): unknown {
    const value: unknown = JSON.parse(this[TEXT]!);
    settle(this, value);
    return value;
  },
  set(this: Holder, value: unknown): void {
    settle(this, value);
  },
};

/** Gives `target` a `payload` property parsed from `text` (valid JSON) on first read. */
export function setLazyPayload(target: { payload?: unknown }, text: string): void {
  // Not enumerable: spreads, copies and deep-equality checks see the job's fields alone.
  Object.defineProperty(target, TEXT, { value: text, writable: true, enumerable: false, configurable: true });
  Object.defineProperty(target, 'payload', ACCESSOR);
}

/** The payload's JSON text while `payload` has been neither read nor replaced; else undefined. */
export function lazyPayloadText(target: { payload?: unknown }): string | undefined {
  return (target as Holder)[TEXT];
}
