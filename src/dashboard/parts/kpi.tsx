/** One figure of a top row: a label, the number with its unit, and a line of context under it. */
export interface KpiProps {
  /** `data-kpi`, for tests and styles. */
  name: string;
  label: string;
  value: string;
  unit?: string;
  sub?: string;
  tone?: 'warn' | 'bad' | undefined;
  /** The engine's row: smaller, the label under the number. */
  small?: boolean;
}

export function Kpi({ name, label, value, unit, sub, tone, small }: KpiProps) {
  return (
    <div class={`kpi ${small ? 'kpi-small' : ''} ${tone ? `kpi-${tone}` : ''}`} data-kpi={name}>
      {!small && <div class="kpi-label">{label}</div>}
      <div class="kpi-value">
        <span data-value>{value}</span>
        {unit && <span class="kpi-unit"> {unit}</span>}
      </div>
      {small && <div class="kpi-label">{label}</div>}
      {sub && <div class="kpi-sub">{sub}</div>}
    </div>
  );
}
