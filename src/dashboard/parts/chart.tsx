/**
 * A live uPlot line chart over the stats history. uPlot draws to a canvas, so redrawing every
 * second costs about nothing; the chart object is made once and given new data with setData.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { timeOfDay } from '../format.js';
import type { StatsSample } from '../types.js';

export interface SeriesSpec {
  label: string;
  /** CSS colour; the palette in styles.css is mirrored here for the canvas. */
  color: string;
  value: (sample: StatsSample) => number | null;
}

interface ChartProps {
  title: string;
  samples: readonly StatsSample[];
  series: readonly SeriesSpec[];
  unit?: string;
  height?: number;
}

/** Tick steps of the time axis, in seconds. */
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

function columns(samples: readonly StatsSample[], series: readonly SeriesSpec[]): uPlot.AlignedData {
  const xs = samples.map((s) => s.at / 1000);
  return [xs, ...series.map((spec) => samples.map((s) => spec.value(s)))];
}

export function Chart({ title, samples, series, unit = '', height = 150 }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current!;
    const dark = matchMedia('(prefers-color-scheme: dark)').matches;
    const ink = dark ? '#9aa4b2' : '#5b6472';
    const grid = dark ? '#2a313c' : '#e6e9ee';
    const axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: '11px system-ui, sans-serif' };
    plot.current = new uPlot(
      {
        width: Math.max(el.clientWidth, 200),
        height,
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        // The time axis in the dashboard's one format (format.ts), not uPlot's own "12/1/26 9:51pm".
        axes: [
          // Whole seconds at least: a tick between two seconds would print the same label twice.
          { ...axis, space: 70, incrs: TIME_STEPS, values: (_u, ticks) => ticks.map((v) => timeOfDay(v * 1000)) },
          { ...axis, size: 44, space: 20, values: (_u, ticks) => ticks.map((v) => String(+v.toPrecision(3))) },
        ],
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, points: { show: false } }))],
      },
      columns(samples, series),
      el,
    );
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(el.clientWidth, 200), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its series change (another topic); data flows through setData.
  }, [series.map((s) => s.label).join('|'), height]);

  useEffect(() => {
    plot.current?.setData(columns(samples, series));
  });

  return (
    <figure class="chart">
      <figcaption>
        {title}
        {unit && <span class="muted"> ({unit.trim()})</span>}
      </figcaption>
      <div ref={box} class="chart-canvas" />
    </figure>
  );
}
