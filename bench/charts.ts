/**
 * Charts of the benchmarks as SVG files: a Vega-Lite 5 spec compiled to Vega 5 and rendered
 * headless (`renderer: 'none'`, then `toSVG()`), so no browser or canvas is needed.
 */
import { writeFile } from 'node:fs/promises';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

export type VegaLiteSpec = vegaLite.TopLevelSpec;

export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function writeSvg(path: string, spec: VegaLiteSpec): Promise<string> {
  await writeFile(path, await renderSvg(spec));
  return path;
}
