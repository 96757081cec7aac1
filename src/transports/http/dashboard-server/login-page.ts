/**
 * The login page the broker answers `GET /` with (status 401) when it has a token and the browser
 * no valid session: a self-contained HTML form that posts the token to /dashboard/login. It holds
 * no data. Its one inline style is allowed by hash in its own CSP; it runs no script at all.
 */
import { createHash } from 'node:crypto';
import { SECURITY_HEADERS } from './static-files.js';

const STYLE = `body{font:16px/1.4 system-ui,sans-serif;display:grid;place-items:center;min-height:100vh;margin:0;background:#f4f5f7;color:#1d2330}
@media (prefers-color-scheme:dark){body{background:#15181e;color:#e4e7ec}form{background:#1d2129!important}input{background:#15181e;color:inherit}}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;display:grid;gap:.75rem;min-width:18rem}
h1{font-size:1.25rem;margin:0}input,button{font:inherit;padding:.5rem;border-radius:4px;border:1px solid #8889}
button{background:#2d6cdf;color:#fff;border:0;cursor:pointer}.error{color:#c0392b;margin:0}`;

const STYLE_HASH = createHash('sha256').update(STYLE, 'utf8').digest('base64');

export const LOGIN_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page, with an error line when a login just failed. */
export function loginPage(error?: string): { body: string; headers: Record<string, string> } {
  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bucketq — log in</title>
<style>${STYLE}</style>
</head>
<body>
<form method="post" action="/dashboard/login">
<h1>bucketq dashboard</h1>
<label for="token">This broker needs its token.</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<button type="submit">Log in</button>
</form>
</body>
</html>
`;
  return { body, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': LOGIN_CSP, ...SECURITY_HEADERS } };
}
