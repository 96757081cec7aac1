/**
 * Where a broker listens and the URL it advertises in the leases it writes. The advertised URL is
 * what other brokers' NOT_LEADER answers send clients to, so it must be routable: an unspecified
 * address (0.0.0.0, ::) is refused there.
 */
import { isIP } from 'node:net';
import { QueueError } from '../errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_LISTEN = '127.0.0.1:8080';

function invalid(message: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', message);
}

/** `HOST:PORT` or `[IPV6]:PORT`; port 0 picks a free port. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65_535) throw invalid(`--listen must be HOST:PORT or [IPV6]:PORT with a port from 0 to 65535, got ${JSON.stringify(text)}`);
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && isIP(host) !== 6) throw invalid(`--listen: ${JSON.stringify(host)} is not an IPv6 address`);
  return { host, port };
}

/** 0.0.0.0, ::, [::] and the like: fine to listen on, never to advertise. */
export function isUnspecifiedHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || /^[0:]+$/.test(h) || h === '::ffff:0.0.0.0' || h === '0';
}

export function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** Checks and normalises an advertised URL (http or https, no query or fragment, no trailing slash). */
export function checkAdvertiseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`--advertise must be a URL such as http://10.0.0.5:8080, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`--advertise must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  if (url.search || url.hash || url.username || url.password) throw invalid(`--advertise must not carry a query, fragment or credentials, got ${JSON.stringify(text)}`);
  if (isUnspecifiedHost(url.hostname)) {
    throw invalid(`--advertise ${text} names an unspecified address that no client can reach; give this broker's routable host name or IP`);
  }
  return url.href.replace(/\/+$/, '');
}

/** The URL a broker listening on `listen` (with the port it actually got) is reachable at. */
export function listenUrl(listen: ListenAddress, port: number): string {
  return `http://${hostForUrl(listen.host)}:${port}`;
}

/** The advertised URL: the one given, else derived from the listen address, which must then be specific. */
export function advertiseUrl(listen: ListenAddress, port: number, advertise?: string): string {
  if (advertise !== undefined) return checkAdvertiseUrl(advertise);
  if (isUnspecifiedHost(listen.host)) {
    throw invalid(`listening on ${listen.host} needs --advertise URL: the URL other brokers send clients to (e.g. http://10.0.0.5:${port || 8080})`);
  }
  return listenUrl(listen, port);
}
