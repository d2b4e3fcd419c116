/**
 * A small recall-vs-QPS line plot in SVG, in the style of ANN-benchmarks: x = recall@10 on a
 * "nines" scale (-log10(1 - recall), like its logit x-scale), y = queries per second (log10
 * scale), one polyline per series through its Pareto frontier.
 */

/** One curve. */
export interface PlotSeries {
  name: string;
  /** [recall 0..1, QPS > 0] pairs. */
  points: [number, number][];
  /** Draw dashed with square markers (baselines), so it stays apart from a solid series of the same colour. */
  dashed?: boolean;
}

/** matplotlib's tab20 palette, dark shades first, then black and greys. */
const COLORS = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
  '#aec7e8', '#ffbb78', '#98df8a', '#ff9896', '#c5b0d5', '#c49c94', '#f7b6d2', '#000000', '#dbdb8d', '#9edae5',
];

/** Recall drawn at the right edge: higher recalls (up to 1) are clamped to it. */
const MAX_RECALL_SHOWN = 0.999;
const RECALL_TICKS = [0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 1];

/**
 * The points of a series that no other point beats on both recall and QPS, by ascending recall:
 * the curve ANN-benchmarks draws (its `create_pointset`). Points with a non-finite recall or
 * QPS <= 0 are dropped.
 */
export function paretoFrontier(points: readonly [number, number][]): [number, number][] {
  const sorted = points.filter(([r, q]) => Number.isFinite(r) && q > 0).sort((a, b) => b[0] - a[0] || b[1] - a[1]);
  const out: [number, number][] = [];
  let bestQps = -Infinity;
  for (const p of sorted) {
    if (p[1] > bestQps) {
      out.push(p);
      bestQps = p[1];
    }
  }
  return out.reverse();
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Renders the plot.
 * @param title text above the plot.
 * @param width total width in px (the legend takes the right 260 px).
 */
export function recallQpsSvg(title: string, series: PlotSeries[], width = 900, height = 480): string {
  const left = 60;
  const top = 30;
  const plotW = width - left - 280;
  const plotH = height - top - 50;
  const all = series.flatMap((s) => s.points).filter(([r, q]) => Number.isFinite(r) && q > 0);
  // Recall on a "nines" scale, -log10(1 - recall), clamped at 0.999 (like ANN-benchmarks'
  // `--x-scale logit`): the range 0.9..1, where the configurations differ, gets most of the width.
  const nines = (r: number): number => -Math.log10(Math.max(1 - r, 1 - MAX_RECALL_SHOWN));
  const minR = Math.min(0.9, ...all.map(([r]) => Math.floor(r * 10) / 10));
  const x0 = nines(minR);
  const x1 = nines(1);
  const qs = all.map(([, q]) => q);
  const lo = Math.floor(Math.log10(Math.min(...qs, 10)));
  const hi = Math.ceil(Math.log10(Math.max(...qs, 100)));
  const x = (r: number): number => left + ((nines(r) - x0) / (x1 - x0)) * plotW;
  const y = (q: number): number => top + plotH - ((Math.log10(q) - lo) / (hi - lo || 1)) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  for (let e = lo; e <= hi; e++) {
    const yy = y(10 ** e).toFixed(1);
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="#ddd"/><text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${10 ** e}</text>`);
  }
  for (const r of RECALL_TICKS.filter((t) => t >= minR)) {
    const xx = x(r).toFixed(1);
    const label = r === 1 ? '1' : String(r);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${top}" y2="${top + plotH}" stroke="#eee"/><text x="${xx}" y="${top + plotH + 15}" text-anchor="middle">${label}</text>`);
  }
  out.push(`<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle">recall@10 (scale: -log10(1 - recall); ${MAX_RECALL_SHOWN} and above at the right edge)</text>`);
  out.push(`<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">queries per second (log scale)</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    const marker = (cx: number, cy: number): string =>
      s.dashed
        ? `<rect x="${(cx - 2.5).toFixed(1)}" y="${(cy - 2.5).toFixed(1)}" width="5" height="5" fill="${color}"/>`
        : `<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="2.5" fill="${color}"/>`;
    const coords = paretoFrontier(s.points).map(([r, q]): [number, number] => [x(r), y(q)]);
    if (coords.length === 0) return;
    if (coords.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5"${dash} points="${coords.map(([cx, cy]) => `${cx.toFixed(1)},${cy.toFixed(1)}`).join(' ')}"/>`);
    for (const [cx, cy] of coords) out.push(marker(cx, cy));
    const ly = top + 6 + i * 16;
    const lx = left + plotW + 12;
    out.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>${marker(lx + 10, ly)}<text x="${lx + 24}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** One curve of {@link lineSvg}: [x, y] points drawn in x order. */
export interface LineSeries {
  name: string;
  points: [number, number][];
  dashed?: boolean;
}

/**
 * A plain line plot in SVG (linear axes), e.g. recall@10 against num_probes: x from the smallest
 * to the largest x of any point, y over [yMin, yMax]; one polyline with markers per series,
 * legend on the right.
 * @param axes axis labels and the y range (values outside are clamped to it).
 */
export function lineSvg(title: string, series: LineSeries[], axes: { x: string; y: string; yMin: number; yMax: number; xTicks?: number[]; yTicks?: number[] }, width = 900, height = 480): string {
  const left = 60;
  const top = 30;
  const plotW = width - left - 280;
  const plotH = height - top - 50;
  const xs = series.flatMap((s) => s.points.map(([px]) => px)).filter(Number.isFinite);
  const xMin = Math.min(...xs, axes.xTicks?.[0] ?? Infinity);
  const xMax = Math.max(...xs, axes.xTicks?.at(-1) ?? -Infinity);
  const x = (v: number): number => left + ((v - xMin) / (xMax - xMin || 1)) * plotW;
  const y = (v: number): number => top + plotH - ((Math.min(Math.max(v, axes.yMin), axes.yMax) - axes.yMin) / (axes.yMax - axes.yMin || 1)) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  const yTicks = axes.yTicks ?? Array.from({ length: 6 }, (_, i) => axes.yMin + ((axes.yMax - axes.yMin) * i) / 5);
  for (const t of yTicks) {
    const yy = y(t).toFixed(1);
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="#ddd"/><text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${+t.toFixed(3)}</text>`);
  }
  for (const t of axes.xTicks ?? [...new Set(xs)].sort((a, b) => a - b)) {
    const xx = x(t).toFixed(1);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${top}" y2="${top + plotH}" stroke="#eee"/><text x="${xx}" y="${top + plotH + 15}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle">${esc(axes.x)}</text>`);
  out.push(`<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(axes.y)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    const coords = s.points.filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py)).sort((a, b) => a[0] - b[0]).map(([px, py]): [number, number] => [x(px), y(py)]);
    if (coords.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5"${dash} points="${coords.map(([cx, cy]) => `${cx.toFixed(1)},${cy.toFixed(1)}`).join(' ')}"/>`);
    for (const [cx, cy] of coords) out.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="2.5" fill="${color}"/>`);
    const ly = top + 6 + i * 16;
    const lx = left + plotW + 12;
    out.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/><text x="${lx + 24}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
