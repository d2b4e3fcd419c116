/**
 * A small recall-vs-QPS line plot in SVG, in the style of ANN-benchmarks: x = recall@10 (linear),
 * y = queries per second (log10 scale), one polyline per series (points sorted by recall).
 */

/** One curve. */
export interface PlotSeries {
  name: string;
  /** [recall 0..1, QPS > 0] pairs. */
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#000000', '#aec7e8', '#ffbb78', '#98df8a', '#ff9896', '#c5b0d5'];

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
  // Zoom on the measured range (at least 0.05 wide), like ANN-benchmarks' recall axis.
  const minR = Math.min(0.95, ...all.map(([r]) => Math.floor(r * 20) / 20));
  const maxR = 1;
  const qs = all.map(([, q]) => q);
  const lo = Math.floor(Math.log10(Math.min(...qs, 10)));
  const hi = Math.ceil(Math.log10(Math.max(...qs, 100)));
  const x = (r: number): number => left + ((r - minR) / (maxR - minR)) * plotW;
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
  const step = maxR - minR <= 0.1 ? 0.01 : 0.05;
  for (let r = minR; r <= maxR + 1e-9; r += step) {
    const xx = x(r).toFixed(1);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${top}" y2="${top + plotH}" stroke="#eee"/><text x="${xx}" y="${top + plotH + 15}" text-anchor="middle">${r.toFixed(2)}</text>`);
  }
  out.push(`<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle">recall@10</text>`);
  out.push(`<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">queries per second (log scale)</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter(([r, q]) => Number.isFinite(r) && q > 0).sort((a, b) => a[0] - b[0]);
    if (pts.length === 0) return;
    const coords = pts.map(([r, q]) => `${x(r).toFixed(1)},${y(q).toFixed(1)}`);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${coords.join(' ')}"/>`);
    for (const c of coords) {
      const [cx, cy] = c.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
    }
    const ly = top + 6 + i * 16;
    out.push(`<line x1="${left + plotW + 12}" x2="${left + plotW + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/><text x="${left + plotW + 36}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
