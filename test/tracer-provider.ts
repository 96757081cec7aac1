/**
 * Registers an OpenTelemetry SDK provider as the global one for a test file's duration and
 * unregisters it after (the API's global is per process, so every file that traces does this).
 */
import { trace } from '@opentelemetry/api';
import type { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll } from 'vitest';

export function useGlobalTracerProvider(provider: BasicTracerProvider): void {
  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    trace.disable();
    await provider.shutdown();
  });
}
