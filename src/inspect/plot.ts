/** Small static SVG line charts for the report (no library, deterministic output). */

export interface Series { name: string; color: string; values: number[] }

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r1 = (v: number) => Math.round(v * 10) / 10;

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/**
 * x: sample times in ms (each value covers the interval ending there), drawn as steps.
 * The chart carries data attributes so a page script can place a time cursor on it.
 */
export function lineChart(id: string, title: string, unit: string, xMs: number[], series: Series[], xMaxMs: number, shadeToMs = 0): string {
  const W = 760, H = 230, L = 56, R = 130, T = 28, B = 34;
  const pw = W - L - R, ph = H - T - B;
  const ymax = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const X = (ms: number) => L + (pw * ms) / (xMaxMs || 1);
  const Y = (v: number) => T + ph - (ph * v) / ymax;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" id="${esc(id)}" class="plot" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" data-left="${L}" data-width="${pw}" data-xmax-ms="${xMaxMs}" font-family="sans-serif" font-size="11">`);
  out.push(`<text x="${L}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>`);
  if (shadeToMs > 0) out.push(`<rect x="${L}" y="${T}" width="${r1(X(shadeToMs) - L)}" height="${ph}" fill="#f2f2f2"/><text x="${r1(L + 4)}" y="${T + 12}" fill="#888">warm-up</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    out.push(`<line x1="${L}" x2="${L + pw}" y1="${r1(Y(v))}" y2="${r1(Y(v))}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${L - 6}" y="${r1(Y(v) + 4)}" text-anchor="end">${+v.toPrecision(4)}</text>`);
  }
  const xt = niceMax(xMaxMs / 6);
  for (let v = 0; v <= xMaxMs + 1e-9; v += xt) {
    out.push(`<line x1="${r1(X(v))}" x2="${r1(X(v))}" y1="${T + ph}" y2="${T + ph + 4}" stroke="#555"/>`);
    out.push(`<text x="${r1(X(v))}" y="${T + ph + 16}" text-anchor="middle">${+v.toPrecision(4)}</text>`);
  }
  out.push(`<text x="${L + pw / 2}" y="${H - 4}" text-anchor="middle" fill="#555">virtual time (ms)</text>`);
  out.push(`<text x="12" y="${T + ph / 2}" transform="rotate(-90 12 ${T + ph / 2})" text-anchor="middle" fill="#555">${esc(unit)}</text>`);
  out.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  series.forEach((s, k) => {
    let d = '';
    s.values.forEach((v, i) => {
      const x0 = i === 0 ? 0 : xMs[i - 1];
      d += `${i === 0 ? 'M' : 'L'}${r1(X(x0))},${r1(Y(v))} L${r1(X(xMs[i]))},${r1(Y(v))} `;
    });
    if (d) out.push(`<path d="${d.trim()}" fill="none" stroke="${s.color}" stroke-width="1.6"/>`);
    out.push(`<rect x="${L + pw + 12}" y="${T + k * 16}" width="10" height="10" fill="${s.color}"/><text x="${L + pw + 26}" y="${T + 9 + k * 16}">${esc(s.name)}</text>`);
  });
  out.push(`<line class="cursor" x1="${L}" x2="${L}" y1="${T}" y2="${T + ph}" stroke="#c00" stroke-width="1.5"/>`);
  out.push('</svg>');
  return out.join('\n');
}
