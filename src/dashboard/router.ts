/** Hash routes: `#/` the overview, `#/topics/NAME` a topic (`?state=dead&job=ID` inside the hash). */
import { useEffect, useState } from 'preact/hooks';

export type Route = { view: 'overview' } | { view: 'topic'; topic: string; params: URLSearchParams };

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const m = /^\/topics\/([^/]+)$/.exec(path);
  if (m) return { view: 'topic', topic: decodeURIComponent(m[1]!), params: new URLSearchParams(query) };
  return { view: 'overview' };
}

export function topicHref(topic: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams(params).toString();
  return `#/topics/${encodeURIComponent(topic)}${query ? `?${query}` : ''}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
