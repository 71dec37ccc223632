// Line charts drawn as SVG by hand: time on x, one line per series, gaps
// where a series has no value (an interval without requests). Colours come
// from CSS classes (.s0 ... .s4), so the CSP needs no inline style.
import { h, fmtTime } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const HEIGHT = 190;
const PAD = { left: 52, right: 12, top: 10, bottom: 24 };

function svg(tag, attrs = {}, parent) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.append(el);
  return el;
}

// The smallest 1, 2, 2.5 or 5 x 10^n that is >= v.
function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// host: an element; spec: {title, format(v), t0, t1, gapMs, integer, series:
// [{name, values: [[t_ms, v|null], ...]}]}. Redraws host's chart in place.
export function drawChart(host, spec) {
  const width = Math.max(260, Math.floor(host.clientWidth || 600));
  const { t0, t1 } = spec;
  let max = 0;
  for (const s of spec.series) for (const [, v] of s.values) if (v !== null && v > max) max = v;
  // Counts (instances) get whole-number grid lines.
  const ymax = spec.integer ? Math.max(4, Math.ceil(max / 4) * 4) : niceCeil(max * 1.05);
  const x = (t) => PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * (width - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - v / ymax) * (HEIGHT - PAD.top - PAD.bottom);

  const last = spec.series.map((s) => {
    const vs = s.values.filter(([, v]) => v !== null);
    return `${s.name} ${vs.length ? spec.format(vs[vs.length - 1][1]) : 'no data'}`;
  });
  const root = svg('svg', { viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT,
                            role: 'img', class: 'chart' });
  svg('title', {}, root).textContent = `${spec.title}, latest: ${last.join(', ')}`;
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    svg('line', { x1: PAD.left, x2: width - PAD.right, y1: y(v), y2: y(v), class: 'grid' }, root);
    const label = svg('text', { x: PAD.left - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, root);
    label.textContent = spec.format(v);
  }
  const ticks = width < 420 ? 2 : 4;
  for (let i = 0; i <= ticks; i++) {
    const t = t0 + ((t1 - t0) * i) / ticks;
    const anchor = i === 0 ? 'start' : i === ticks ? 'end' : 'middle';
    const label = svg('text', { x: x(t), y: HEIGHT - 6, class: 'axis', 'text-anchor': anchor }, root);
    // HH:MM over a long span, HH:MM:SS over a short one.
    label.textContent = fmtTime(t).slice(0, t1 - t0 > 600000 ? 5 : 8);
  }
  spec.series.forEach((s, i) => {
    // Runs of consecutive values; a null or a missing interval breaks the line.
    let run = [];
    const flush = () => {
      if (run.length === 1) {
        svg('circle', { cx: run[0][0], cy: run[0][1], r: 2.5, class: `dot s${i}` }, root);
      } else if (run.length > 1) {
        svg('polyline', { points: run.map((p) => p.join(',')).join(' '), class: `line s${i}` }, root);
      }
      run = [];
    };
    let prevT = null;
    for (const [t, v] of s.values) {
      if (v === null || (prevT !== null && t - prevT > spec.gapMs)) flush();
      if (v !== null) run.push([x(t).toFixed(1), y(v).toFixed(1)]);
      prevT = t;
    }
    flush();
  });
  const legend = h('ul', { class: 'legend' },
    spec.series.map((s, i) => h('li', {}, h('span', { class: `swatch s${i}` }), s.name)));
  host.replaceChildren(h('h3', {}, spec.title), root, legend);
  if (!spec.series.some((s) => s.values.some(([, v]) => v !== null)))
    host.append(h('p', { class: 'muted small' }, 'No data yet: a point is added every interval.'));
}
