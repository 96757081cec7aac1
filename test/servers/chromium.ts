/**
 * Debian's `chromium`, the headless browser the dashboard tests drive with playwright-core.
 * Installed with apt-get when missing and we are root (about a minute on a fresh machine);
 * otherwise the dashboard tests skip with the reason. playwright-core ships no browser of its
 * own, so we point it at this binary (`chromium.launch({ executablePath })`).
 */
import { accessSync, constants } from 'node:fs';
import { aptInstall } from './apt.js';

export const CHROMIUM_PATH = process.env.BUCKETQ_TEST_CHROMIUM ?? '/usr/bin/chromium';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let ensured: Promise<string | null> | null = null;

/** null when {@link CHROMIUM_PATH} is there (installing Debian's chromium if needed), else why it is not. */
export function ensureChromium(log: (line: string) => void = () => {}): Promise<string | null> {
  ensured ??= (async () => {
    if (executable(CHROMIUM_PATH)) return null;
    const failed = await aptInstall(['chromium', 'fonts-liberation'], {
      what: `chromium (at ${CHROMIUM_PATH})`,
      onStart: () => log('installing chromium with apt-get (about a minute, once per machine)'),
    });
    if (failed) return failed;
    return executable(CHROMIUM_PATH) ? null : `apt-get installed chromium but ${CHROMIUM_PATH} is still missing`;
  })();
  return ensured;
}
