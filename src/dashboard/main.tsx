/**
 * The dashboard's entry: a header (broker, live status, logout), the routed view, the notices.
 * Served by the broker from dist/dashboard (scripts/build-dashboard.ts bundles this file).
 */
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, describeError, setUnauthenticatedHandler } from './api.js';
import { setBeforeReopen, useEventsOpen, useJobEvents, useStats } from './live.js';
import { ConfirmHost } from './parts/confirm.js';
import { Notices, notify } from './parts/notices.js';
import { useRoute } from './router.js';
import type { BrokerInfo } from './types.js';
import { Overview } from './views/overview.js';
import { Topic } from './views/topic.js';

// A 401 means the session is gone: the broker's login page lives at /.
setUnauthenticatedHandler(() => location.assign('/'));
// A stream the browser gave up on may mean the session is gone: asking tells (a 401 goes to the login page).
setBeforeReopen(() => api.session().catch(() => undefined));

/** Lease expiries move with every renewal, which is no event: the cluster view is re-read this often. */
const BROKER_REFRESH_MS = 10_000;

function App() {
  const route = useRoute();
  const stats = useStats();
  const [broker, setBroker] = useState<BrokerInfo | null>(null);
  const [session, setSession] = useState<{ auth: boolean; role: 'admin' | 'read' } | null>(null);
  const loadBroker = (): void => void api.broker().then(setBroker, (err: unknown) => notify('error', `broker info: ${describeError(err)}`));
  useEffect(() => {
    loadBroker();
    // The role decides what the page offers; the broker refuses a read session's changes anyway.
    void api.session().then(setSession, (err: unknown) => notify('error', `session: ${describeError(err)}`));
    const every = setInterval(loadBroker, BROKER_REFRESH_MS);
    return () => clearInterval(every);
  }, []);
  // Leadership changes are events: show them at once (and re-read after a gap in the stream).
  useJobEvents(null, (e) => (e.kind === 'leader' || e.kind === 'reset') && loadBroker());
  const readOnly = session?.role === 'read';
  const eventsOpen = useEventsOpen();

  const logout = (): void => void api.logout().finally(() => location.assign('/'));

  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          bucketq
        </a>
        <span class="muted top-where" title={broker ? `broker ${broker.id}, store ${broker.store}` : undefined}>
          {broker ? `${broker.id} · ${broker.store}` : ''}
        </span>
        <span class="spacer" />
        {readOnly && <span class="badge badge-warn">read-only</span>}
        <span class={stats.connected ? 'live live-on' : 'live'} id="live-status" data-events={eventsOpen ? 'open' : 'closed'}>
          {stats.connected ? 'live' : 'connecting…'}
        </span>
        {session?.auth && (
          <button class="link" id="logout" onClick={logout}>
            log out
          </button>
        )}
      </header>
      {route.view === 'topic' ? <Topic key={route.topic} topic={route.topic} params={route.params} readOnly={readOnly} segmentLost={broker?.topics.find((t) => t.topic === route.topic)?.segmentLost} /> : <Overview broker={broker} />}
      <ConfirmHost />
      <Notices />
    </>
  );
}

render(<App />, document.getElementById('app')!);
