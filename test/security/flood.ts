/**
 * What the connection-flood tests share: a second loopback address for the attacker (Linux routes
 * all of 127.0.0.0/8 to the loopback interface, so a socket bound to 127.0.0.2 reaches a broker on
 * 127.0.0.1 and the broker sees a client address of its own), sockets opened from it, and one
 * fresh-connection HTTP request from 127.0.0.1 with a deadline.
 */
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';

export const ATTACKER = '127.0.0.2';

/** Connections opened at once by an attack (see Attack.connect). */
const WAVE = 100;

/** Whether this host lets a socket bind to `address` and reach 127.0.0.1 (Linux does; macOS needs an alias). */
export async function canConnectFrom(address: string): Promise<boolean> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port, localAddress: address }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  } finally {
    server.close();
  }
}

/** Whether the attacker's address is usable here; prints why the tests that need it are skipped when it is not. */
export async function attackerAvailable(): Promise<boolean> {
  const ok = await canConnectFrom(ATTACKER);
  if (!ok) console.log(`skipped: this host cannot connect from ${ATTACKER} (Linux routes 127.0.0.0/8 to loopback; elsewhere add the alias)`);
  return ok;
}

/** An attacker's connections: every socket opened, and how many are still open. */
export class Attack {
  readonly sockets: Socket[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  get open(): number {
    return this.sockets.filter((s) => !s.destroyed).length;
  }

  /**
   * Opens `n` connections from `localAddress`; resolves once each has connected or failed. With
   * `onConnect`, it runs on each connected socket (what the attacker sends).
   */
  async connect(port: number, n: number, localAddress: string, onConnect?: (s: Socket) => void): Promise<void> {
    // In waves well under the listen backlog (511): a thousand SYNs at once overflow the kernel's
    // accept queue, and with SYN cookies a handshake whose last ACK is dropped there is complete
    // for the client and unknown to the server: a ghost socket neither side ever closes (CI saw
    // 525 "open" where the broker held 500). Waves keep the count the broker's own.
    for (let done = 0; done < n; done += WAVE) await this.connectWave(port, Math.min(WAVE, n - done), localAddress, onConnect);
  }

  private async connectWave(port: number, n: number, localAddress: string, onConnect?: (s: Socket) => void): Promise<void> {
    await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<void>((resolve) => {
            const s = connect({ host: '127.0.0.1', port, localAddress }, () => {
              onConnect?.(s);
              resolve();
            });
            s.on('error', () => resolve()); // a refused or reset connection counts as tried
            s.on('close', () => resolve());
            s.resume(); // read what the server says (an error, a 408) so its closing is seen
            this.sockets.push(s);
          }),
      ),
    );
  }

  /** Slowloris: a request line at once, then a header line every `everyMs`, never the blank line that ends the head. */
  slowloris(everyMs: number): (s: Socket) => void {
    return (s) => {
      s.write('GET /healthz HTTP/1.1\r\nhost: x\r\n');
      let n = 0;
      const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write(`x-${n++}: y\r\n`)), everyMs);
      this.timers.push(t);
    };
  }

  stop(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const s of this.sockets) s.destroy();
  }
}

/** Resolves when the server closed `s` (or it was already closed). */
export function closedBy(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
}

export interface Timed {
  status: number;
  body: string;
  ms: number;
}

/** One request on a connection of its own from 127.0.0.1 (no keep-alive pool to hide behind); rejects past `deadlineMs`. */
export function timedRequest(port: number, method: string, path: string, o: { token?: string; body?: unknown; deadlineMs: number }): Promise<Timed> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        localAddress: '127.0.0.1',
        headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}), connection: 'close' },
        timeout: o.deadlineMs,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text, ms: performance.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${o.deadlineMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
