import { describe, expect, it } from 'vitest';
import { advertiseUrl, checkAdvertiseUrl, isUnspecifiedHost, parseListen } from '../../src/server/address.js';
import { codeOf } from '../codes.js';

describe('listen and advertise addresses', () => {
  it('parses HOST:PORT and [IPV6]:PORT', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    for (const bad of ['8080', ':8080', 'host:', 'host:65536', '::1:80', '[nothex]:80', 'a b:80']) {
      expect(() => parseListen(bad), bad).toThrow(/--listen must be|not an IPv6/);
    }
  });

  it('derives the advertised URL from the listen address, never from an unspecified one', async () => {
    expect(advertiseUrl(parseListen('127.0.0.1:0'), 4321)).toBe('http://127.0.0.1:4321');
    expect(advertiseUrl(parseListen('[::1]:0'), 4321)).toBe('http://[::1]:4321');
    expect(advertiseUrl(parseListen('0.0.0.0:80'), 80, 'http://10.0.0.5:80/')).toBe('http://10.0.0.5');
    expect(await codeOf(Promise.resolve().then(() => advertiseUrl(parseListen('0.0.0.0:80'), 80)))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(Promise.resolve().then(() => advertiseUrl(parseListen('[::]:80'), 80)))).toBe('INVALID_ARGUMENT');
    for (const host of ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0']) expect(isUnspecifiedHost(host), host).toBe(true);
    for (const host of ['127.0.0.1', '::1', 'example.com', '10.0.0.0']) expect(isUnspecifiedHost(host), host).toBe(false);
  });

  it('checks an --advertise URL', () => {
    expect(checkAdvertiseUrl('https://broker-1.internal:8443/')).toBe('https://broker-1.internal:8443');
    expect(checkAdvertiseUrl('http://proxy.example/bucketq/')).toBe('http://proxy.example/bucketq');
    for (const bad of ['broker:8080', 'ftp://x', 'http://[::]:80', 'http://0.0.0.0:80', 'http://x/?a=1', 'http://u:p@x']) {
      expect(() => checkAdvertiseUrl(bad), bad).toThrow(/--advertise/);
    }
  });
});
