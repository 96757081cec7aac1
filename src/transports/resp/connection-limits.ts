/**
 * Who may hold a connection of the Redis port (docs/security.md, "Connections"). Strangers must
 * not be able to lock authenticated clients out, as 1,000 idle sockets that never sent AUTH once
 * did by filling the client limit:
 *
 * - a client address holds at most `maxPerAddress` connections (half of the limit by default),
 *   authenticated or not: with no token everyone is authenticated, and this is what is left;
 * - with a token, at most `maxUnauthenticated` connections may wait to authenticate (a tenth of the
 *   limit by default). A newcomer past that cap, or past the connection limit itself while some
 *   connection is still unauthenticated, cuts the one that has waited longest instead of being
 *   refused: a real client sends AUTH first thing and is authenticated within a round trip, so the
 *   one cut is nearly always a stranger's, and a newcomer, stranger or not, always gets in to try;
 * - and each of them is cut anyway at its AUTH deadline (server.ts).
 */
import type { Socket } from 'node:net';
import { AddressCounts, type ConnectionRejectReason } from '../shared/connections.js';

/** Cuts one connection for a reason, with an error reply for its client. */
export type Kick = (reason: ConnectionRejectReason, text: string) => void;

export interface RespConnectionLimitsOptions {
  maxConnections: number;
  maxPerAddress: number;
  /** null: the broker has no token, every connection is authenticated from the start. */
  maxUnauthenticated: number | null;
}

export class RespConnectionLimits {
  private readonly perAddress: AddressCounts;
  /** Connections waiting to authenticate, oldest first (a Map keeps insertion order). */
  private readonly unauthenticated = new Map<Socket, Kick>();

  constructor(private readonly o: RespConnectionLimitsOptions) {
    this.perAddress = new AddressCounts(o.maxPerAddress);
  }

  /**
   * Whether `socket` may open, with `open` connections already: null if so (it is then counted
   * until it closes), else why not, as the reason and the error reply it gets.
   */
  admit(socket: Socket, open: number): { reason: ConnectionRejectReason; text: string } | null {
    const full = open >= this.o.maxConnections;
    if (full && this.unauthenticated.size === 0) return { reason: 'max-connections', text: 'ERR max number of clients reached' };
    if (!this.perAddress.admit(socket)) {
      return { reason: 'address-limit', text: `ERR max number of clients reached for this address (${this.o.maxPerAddress} connections)` };
    }
    if (full) this.cutOldestUnauthenticated();
    return null;
  }

  /** Registers a connection that must authenticate; `kick` cuts it. Makes room under the cap first. */
  waitForAuth(socket: Socket, kick: Kick): void {
    if (this.o.maxUnauthenticated !== null && this.unauthenticated.size >= this.o.maxUnauthenticated) this.cutOldestUnauthenticated();
    this.unauthenticated.set(socket, kick);
  }

  /** The connection authenticated, was cut or closed: it no longer waits. */
  done(socket: Socket): void {
    this.unauthenticated.delete(socket);
  }

  private cutOldestUnauthenticated(): void {
    const oldest = this.unauthenticated.entries().next();
    if (oldest.done) return;
    const [socket, kick] = oldest.value;
    this.unauthenticated.delete(socket);
    kick('unauthenticated-limit', 'ERR bucketq: too many connections are waiting to authenticate; this one waited longest and is closed');
  }
}
