/**
 * Tiny inline-SVG chart primitives for report.html: no library, no external resource, no `xmlns` URL (inline SVG in
 * HTML needs none).
 */

export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": '#39' }[c] ?? ''};`);

/** Rounds up to a "nice" axis maximum (1, 2, 2.5, 5 x 10^n). */
export function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (value <= m * exp) return m * exp;
  return 10 * exp;
}

/** Axis tick values from 0 to `max` (a niceMax) in 4-5 steps. */
export function ticks(max: number): number[] {
  const exp = 10 ** Math.floor(Math.log10(max));
  const steps = [exp / 5, exp / 4, exp / 2, exp, exp * 2].find((s) => max / s <= 5) ?? exp;
  const out: number[] = [];
  for (let v = 0; v <= max + steps / 1000; v += steps) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

export const fmt = (n: number): string => {
  if (n === 0) return '0';
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1).replace(/\.0$/, '');
  return Number(n.toPrecision(3)).toString();
};

export function polyline(points: Array<[number, number]>, cls: string): string {
  if (points.length === 0) return '';
  const d = points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`).join('');
  return `<path class="${cls}" d="${d}"/>`;
}

/** Horizontal grid lines and left-axis labels for values 0..max. */
export function yGrid(f: Frame, max: number, unit: string): string {
  const h = f.height - f.top - f.bottom;
  return ticks(max)
    .map((v) => {
      const y = f.top + h - (v / max) * h;
      return (
        `<line class="grid" x1="${f.left}" x2="${f.width - f.right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}"/>` +
        `<text class="axis" x="${f.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmt(v)}${unit}</text>`
      );
    })
    .join('');
}

export function svgOpen(f: Frame, label: string): string {
  return `<svg viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="${escapeHtml(label)}">`;
}

/**
 * The percentile axis HdrHistogram's plots use: x = log10(1 / (1 - p)), 0 at p0, 1 at p90, 2 at p99 ... up to `maxX`
 * nines. Returns the x of a percentile and the vertical grid with its labels (0%, 90%, 99%, ...).
 */
export function percentileAxis(f: Frame, maxX: number): { x: (p: number) => number; grid: string } {
  const w = f.width - f.left - f.right;
  const h = f.height - f.top - f.bottom;
  const x = (p: number): number => f.left + (Math.min(nines(p), maxX) / maxX) * w;
  let grid = '';
  for (let i = 0; i <= maxX; i++) {
    const xi = f.left + (i / maxX) * w;
    const label = i === 0 ? '0%' : `${Number((100 * (1 - 10 ** -i)).toFixed(i))}%`;
    grid += `<line class="grid" x1="${xi}" x2="${xi}" y1="${f.top}" y2="${f.top + h}"/>`;
    grid += `<text class="axis" x="${xi}" y="${f.top + h + 18}" text-anchor="middle">${label}</text>`;
  }
  return { x, grid };
}

/** How many nines a percentile has: log10(100 / (100 - p)); infinite at 100. */
export function nines(p: number): number {
  return p >= 100 ? Number.POSITIVE_INFINITY : Math.log10(100 / (100 - p));
}
