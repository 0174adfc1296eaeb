/**
 * report.html: one self-contained page (inline CSS and SVG, no script, no external URL of any kind) that shows the
 * verdict first, then the latency percentile curve, throughput and errors over time, and the details.
 *
 * Even the tested URL is written with its colon as `&#58;`, so the page source holds no "http://" at all: a reader's
 * browser shows the URL as usual, and a grep for remote references finds nothing.
 */
import { decodeHistogram, percentileCurve } from './histograms.ts';
import { JUDGE_CSS, judgeSection } from './report-judge.ts';
import { escapeHtml, type Frame, fmt, niceMax, nines, percentileAxis, polyline, svgOpen, yGrid } from './svg-chart.ts';
import type { LoadReport } from './types.ts';

/** Escapes text and defuses scheme separators ("http://" -> "http&#58;//"). */
const text = (s: string): string => escapeHtml(s).replace(/:\/\//g, '&#58;//');
const pct = (n: number, digits = 2): string => `${Number((n * 100).toFixed(digits))}%`;
const ms = (n: number): string => `${fmt(n)} ms`;

function percentileChart(report: LoadReport): string {
  const curve = percentileCurve(decodeHistogram(report.histograms.latencyUs));
  const f: Frame = { width: 760, height: 320, left: 64, right: 20, top: 16, bottom: 40 };
  if (curve.length === 0) return '<p class="muted">No latency was recorded.</p>';
  const finite = curve.filter((c) => c.percentile < 100);
  const maxX = Math.max(2, Math.ceil(Math.max(...finite.map((c) => nines(c.percentile)))));
  const sloMax = Math.max(report.slo.spec.p95Ms ?? 0, report.slo.spec.p99Ms ?? 0);
  const maxY = niceMax(Math.max(report.latencyMs.max, sloMax) * 1.05);
  const w = f.width - f.left - f.right;
  const h = f.height - f.top - f.bottom;
  const { x, grid } = percentileAxis(f, maxX);
  const y = (v: number): number => f.top + h - (v / maxY) * h;

  let out = svgOpen(f, 'Latency by percentile') + yGrid(f, maxY, '') + grid;
  out += `<text class="axis" x="${f.left + w / 2}" y="${f.height - 4}" text-anchor="middle">percentile</text>`;
  out += `<text class="axis" x="14" y="${f.top + h / 2}" transform="rotate(-90 14 ${f.top + h / 2})" text-anchor="middle">latency (ms)</text>`;

  const slo = (limit: number | undefined, p: number, name: string): string => {
    if (limit === undefined) return '';
    const ok = name === 'p95' ? report.latencyMs.p95 <= limit : report.latencyMs.p99 <= limit;
    const yy = y(limit).toFixed(1);
    return (
      `<line class="slo ${ok ? 'ok' : 'bad'}" x1="${f.left}" x2="${x(p).toFixed(1)}" y1="${yy}" y2="${yy}"/>` +
      `<line class="slo ${ok ? 'ok' : 'bad'}" x1="${x(p).toFixed(1)}" x2="${x(p).toFixed(1)}" y1="${yy}" y2="${f.top + h}"/>` +
      `<text class="slolabel ${ok ? 'ok' : 'bad'}" x="${(x(p) - 4).toFixed(1)}" y="${(y(limit) - 5).toFixed(1)}" text-anchor="end">${name} SLO ${ms(limit)}</text>`
    );
  };
  out += slo(report.slo.spec.p95Ms, 95, 'p95') + slo(report.slo.spec.p99Ms, 99, 'p99');

  const pts = finite.map((c): [number, number] => [x(c.percentile), y(c.ms)]);
  const area = `${pts.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${px.toFixed(1)},${py.toFixed(1)}`).join('')}L${(pts.at(-1)?.[0] ?? f.left).toFixed(1)},${f.top + h}L${f.left},${f.top + h}Z`;
  out += `<path class="area" d="${area}"/>${polyline(pts, 'line')}`;
  for (const [p, v] of [
    [50, report.latencyMs.p50],
    [90, report.latencyMs.p90],
    [99, report.latencyMs.p99],
    [99.9, report.latencyMs.p999],
  ] as const) {
    if (nines(p) > maxX) continue;
    out += `<circle class="dot" cx="${x(p).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3.5"><title>p${p}: ${ms(v)}</title></circle>`;
  }
  return `${out}</svg>`;
}

function timelineChart(report: LoadReport): string {
  const f: Frame = { width: 760, height: 260, left: 64, right: 64, top: 16, bottom: 40 };
  const t = report.timeline;
  if (t.length === 0) return '<p class="muted">No timeline was recorded.</p>';
  const w = f.width - f.left - f.right;
  const h = f.height - f.top - f.bottom;
  const perWorkerTarget = report.rate.target;
  const maxY = niceMax(Math.max(perWorkerTarget, ...t.map((p) => Math.max(p.completed, p.sent + p.dropped))) * 1.05);
  const maxP99 = niceMax(Math.max(...t.map((p) => p.p99Ms), 0.001) * 1.05);
  const bw = w / t.length;
  const x = (s: number): number => f.left + s * bw;
  const y = (v: number): number => f.top + h - (v / maxY) * h;

  let out = svgOpen(f, 'Throughput, errors and p99 per second') + yGrid(f, maxY, '');
  const every = Math.max(1, Math.ceil(t.length / 12));
  for (const p of t) {
    const bx = x(p.second) + bw * 0.12;
    const bwidth = Math.max(1, bw * 0.76);
    const ok = p.completed - p.errors;
    const tip = `<title>second ${p.second}: ${p.completed} completed, ${p.errors} errors, ${p.dropped} dropped, p99 ${ms(p.p99Ms)}</title>`;
    out += `<g>${tip}`;
    out += `<rect class="ok" x="${bx.toFixed(1)}" y="${y(ok).toFixed(1)}" width="${bwidth.toFixed(1)}" height="${(f.top + h - y(ok)).toFixed(1)}"/>`;
    if (p.errors > 0) {
      out += `<rect class="err" x="${bx.toFixed(1)}" y="${y(p.completed).toFixed(1)}" width="${bwidth.toFixed(1)}" height="${(y(ok) - y(p.completed)).toFixed(1)}"/>`;
    }
    if (p.dropped > 0) {
      const top = y(p.completed + p.dropped);
      out += `<rect class="drop" x="${bx.toFixed(1)}" y="${top.toFixed(1)}" width="${bwidth.toFixed(1)}" height="${(y(p.completed) - top).toFixed(1)}"/>`;
    }
    out += '</g>';
    if (p.second % every === 0) {
      out += `<text class="axis" x="${(x(p.second) + bw / 2).toFixed(1)}" y="${f.top + h + 18}" text-anchor="middle">${p.second}s</text>`;
    }
  }
  const ty = y(perWorkerTarget).toFixed(1);
  out += `<line class="target" x1="${f.left}" x2="${f.left + w}" y1="${ty}" y2="${ty}"/>`;
  out += `<text class="axis target-label" x="${f.left + 4}" y="${(y(perWorkerTarget) - 5).toFixed(1)}">target ${fmt(perWorkerTarget)} req/s</text>`;
  // p99 per second on the right axis.
  const py = (v: number): number => f.top + h - (v / maxP99) * h;
  out += polyline(
    t.map((p): [number, number] => [x(p.second) + bw / 2, py(p.p99Ms)]),
    'p99line',
  );
  for (const v of [0, maxP99 / 2, maxP99]) {
    out += `<text class="axis p99axis" x="${f.left + w + 6}" y="${(py(v) + 4).toFixed(1)}">${fmt(v)} ms</text>`;
  }
  out += `<text class="axis" x="${f.left + w / 2}" y="${f.height - 4}" text-anchor="middle">seconds since start</text>`;
  return `${out}</svg>`;
}

function verdict(report: LoadReport): { cls: string; title: string; detail: string } {
  const checked = Object.keys(report.slo.spec).length;
  if (report.slo.verdict === 'inconclusive') {
    return {
      cls: 'none',
      title: 'Inconclusive',
      detail: `${(report.slo.inconclusive ?? '').replace(/^inconclusive: /, '')}: these figures neither pass nor blame the service.`,
    };
  }
  if (report.slo.passed) {
    return { cls: 'pass', title: 'SLOs met', detail: `All ${checked} objective${checked > 1 ? 's' : ''} held.` };
  }
  const n = report.slo.violations.length;
  return {
    cls: 'fail',
    title: 'SLOs violated',
    detail: `${n} of ${checked} objective${checked > 1 ? 's' : ''} failed.`,
  };
}

function sloTable(report: LoadReport): string {
  const spec = report.slo.spec;
  const rows: string[] = [];
  const row = (name: string, limit: string, actual: string, ok: boolean, why: string) =>
    rows.push(
      `<tr class="${ok ? 'ok' : 'bad'}"><td>${name}</td><td>${limit}</td><td>${actual}</td>` +
        `<td><span class="pill ${ok ? 'ok' : 'bad'}">${ok ? 'met' : 'violated'}</span></td><td>${text(why)}</td></tr>`,
    );
  const violation = (metric: string) => report.slo.violations.find((v) => v.metric === metric);
  if (spec.p95Ms !== undefined) {
    const v = violation('p95Ms');
    row('p95 latency', `&le; ${ms(spec.p95Ms)}`, ms(report.latencyMs.p95), !v, v?.message ?? '');
  }
  if (spec.p99Ms !== undefined) {
    const v = violation('p99Ms');
    row('p99 latency', `&le; ${ms(spec.p99Ms)}`, ms(report.latencyMs.p99), !v, v?.message ?? '');
  }
  if (spec.maxErrorRate !== undefined) {
    const v = violation('errorRate');
    row('error rate', `&le; ${pct(spec.maxErrorRate)}`, pct(report.errorRate), !v, v?.message ?? '');
  }
  if (spec.minAchievedRate !== undefined) {
    const v = violation('achievedRate');
    const frac = report.rate.target > 0 ? report.rate.achieved / report.rate.target : 0;
    row('achieved rate', `&ge; ${pct(spec.minAchievedRate)} of target`, pct(frac), !v, v?.message ?? '');
  }
  if (rows.length === 0) return '';
  return `<table class="slo"><thead><tr><th>objective</th><th>limit</th><th>measured</th><th></th><th>why</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function kv(record: Record<string, number>, empty: string): string {
  const entries = Object.entries(record);
  if (entries.length === 0) return `<p class="muted">${empty}</p>`;
  return `<table class="kv">${entries.map(([k, n]) => `<tr><td>${text(k)}</td><td>${n.toLocaleString('en-US')}</td></tr>`).join('')}</table>`;
}

const CSS = `
:root{--bg:#f6f7f9;--card:#fff;--ink:#1c2330;--muted:#6b7385;--line:#e3e6ec;--accent:#3056d3;--ok:#1f9d55;--bad:#d64545;--warn:#e08a1e}
@media (prefers-color-scheme:dark){:root{--bg:#12151b;--card:#1b2029;--ink:#e6e9ef;--muted:#96a0b3;--line:#2b323f;--accent:#7d9bff;--ok:#3ecf7c;--bad:#ff6b6b;--warn:#ffb454}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:960px;margin:0 auto;padding:28px 20px 60px}h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 12px}
.muted{color:var(--muted)}.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px;margin:16px 0}
.verdict{display:flex;gap:16px;align-items:center;border-width:2px}.verdict .badge{font-weight:700;font-size:20px;padding:8px 16px;border-radius:10px;color:#fff;white-space:nowrap}
.verdict.pass{border-color:var(--ok)}.verdict.pass .badge{background:var(--ok)}.verdict.fail{border-color:var(--bad)}.verdict.fail .badge{background:var(--bad)}
.verdict.none .badge{background:var(--muted)}.verdict ul{margin:6px 0 0;padding-left:18px}.verdict li{color:var(--bad);font-weight:600}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:12px}.fig{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:12px 14px}
.fig .v{font-size:24px;font-weight:700;font-variant-numeric:tabular-nums}.fig .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}.fig.bad .v{color:var(--bad)}
svg{width:100%;height:auto;display:block}.grid{stroke:var(--line);stroke-width:1}.axis{fill:var(--muted);font-size:11px}
.line{fill:none;stroke:var(--accent);stroke-width:2.2}.area{fill:var(--accent);opacity:.12}.dot{fill:var(--accent)}
.slo{stroke-width:1.5;stroke-dasharray:5 4}.slo.ok{stroke:var(--ok)}.slo.bad{stroke:var(--bad)}.slolabel{font-size:11px;font-weight:600}.slolabel.ok{fill:var(--ok)}.slolabel.bad{fill:var(--bad)}
rect.ok{fill:var(--accent);opacity:.75}rect.err{fill:var(--bad)}rect.drop{fill:var(--warn)}.target{stroke:var(--ink);stroke-dasharray:3 3;opacity:.5}.target-label{fill:var(--ink)}
.p99line{fill:none;stroke:var(--warn);stroke-width:2}.p99axis{fill:var(--warn)}
.legend{display:flex;gap:16px;font-size:12px;color:var(--muted);margin-top:6px}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}td,th{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);font-size:14px}th{color:var(--muted);font-weight:600;font-size:12px}
.pill{font-size:12px;font-weight:700;padding:2px 8px;border-radius:99px;color:#fff}.pill.ok{background:var(--ok)}.pill.bad{background:var(--bad)}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:16px}@media (max-width:700px){.cols{grid-template-columns:1fr}}
.note{border-left:3px solid var(--warn);padding:6px 12px;margin:10px 0;background:color-mix(in srgb,var(--warn) 8%,transparent)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
`;

/** Renders the report as one self-contained HTML page. Pure. */
export function renderReportHtml(report: LoadReport): string {
  const v = verdict(report);
  const r = report;
  const fraction = r.rate.target > 0 ? r.rate.achieved / r.rate.target : 0;
  const violated = new Set(r.slo.violations.map((x) => x.metric));
  const fig = (label: string, value: string, bad = false) =>
    `<div class="fig${bad ? ' bad' : ''}"><div class="l">${label}</div><div class="v">${value}</div></div>`;

  const notes: string[] = [];
  if (r.latenessMs.p99 > 10) {
    notes.push(
      `The generator itself ran late (scheduler lateness p99 ${ms(r.latenessMs.p99)}): it was short of CPU or its event loop was blocked, so some of the latency may be the generator's, not the target's.`,
    );
  }
  if (r.requests.dropped > 0) {
    notes.push(
      `${r.requests.dropped.toLocaleString('en-US')} requests were dropped (never sent): they fell due while all ${fmt(r.maxConnections)} allowed connections, or the in-flight cap, were taken for longer than the timeout, so the target received less than the target rate.`,
    );
  }
  if (r.aborted) notes.push('The run was stopped early; the figures cover only what was measured.');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Load test ${v.cls === 'fail' ? '✗' : v.cls === 'pass' ? '✓' : ''} ${text(r.url)}</title>
<style>${CSS}${JUDGE_CSS}</style>
</head>
<body>
<main>
<h1>Load test of <code>${text(r.method)} ${text(r.url)}</code></h1>
<p class="muted">Started ${text(r.startedAt)} &middot; ${fmt(r.durationSec)} s at ${fmt(r.rate.target)} req/s (open model, constant arrival rate) &middot; ${r.workers} worker${r.workers > 1 ? 's' : ''}, ${fmt(r.connections)} connections used of ${fmt(r.maxConnections)} allowed, ${fmt(r.timeoutMs)} ms timeout</p>

<section class="card verdict ${v.cls}">
<div class="badge">${v.cls === 'pass' ? 'PASS' : v.cls === 'fail' ? 'FAIL' : 'INCONCLUSIVE'}</div>
<div><strong>${v.title}.</strong> ${v.detail}
${r.slo.violations.length > 0 ? `<ul>${r.slo.violations.map((x) => `<li>${text(x.message)}</li>`).join('')}</ul>` : ''}
</div>
</section>
${judgeSection(r)}

<section class="figures">
${fig('achieved rate', `${fmt(r.rate.achieved)}<span class="muted" style="font-size:13px"> / ${fmt(r.rate.target)} req/s</span>`, violated.has('achievedRate'))}
${fig('requests', r.requests.total.toLocaleString('en-US'))}
${fig('error rate', pct(r.errorRate), violated.has('errorRate'))}
${fig('dropped', r.requests.dropped.toLocaleString('en-US'), r.requests.dropped > 0)}
${fig('p50', ms(r.latencyMs.p50))}
${fig('p95', ms(r.latencyMs.p95), violated.has('p95Ms'))}
${fig('p99', ms(r.latencyMs.p99), violated.has('p99Ms'))}
${fig('max', ms(r.latencyMs.max))}
</section>
${notes.map((n) => `<p class="note">${text(n)}</p>`).join('\n')}

<section class="card">
<h2>Latency by percentile</h2>
${percentileChart(r)}
<p class="muted">Measured from each request's intended send time, so a stall of the target shows up in full (coordinated-omission correct). The percentile axis is logarithmic: each step right is one more nine.</p>
</section>

<section class="card">
<h2>Throughput and errors over time</h2>
${timelineChart(r)}
<div class="legend"><span><i style="background:var(--accent)"></i>completed</span><span><i style="background:var(--bad)"></i>errors</span><span><i style="background:var(--warn)"></i>dropped</span><span><i style="background:var(--warn);height:2px"></i>p99 per second (right axis)</span></div>
</section>

${
  Object.keys(r.slo.spec).length > 0
    ? `<section class="card"><h2>Service level objectives</h2>${sloTable(r)}</section>`
    : ''
}

<section class="cols">
<div class="card"><h2>Latency (ms)</h2><table class="kv">
${(['min', 'p50', 'p90', 'p95', 'p99', 'p999', 'max', 'mean'] as const).map((k) => `<tr><td>${k === 'p999' ? 'p99.9' : k}</td><td>${fmt(r.latencyMs[k])}</td></tr>`).join('')}
</table></div>
<div class="card"><h2>Requests</h2><table class="kv">
<tr><td>scheduled</td><td>${r.requests.scheduled.toLocaleString('en-US')}</td></tr>
<tr><td>completed</td><td>${r.requests.total.toLocaleString('en-US')}</td></tr>
<tr><td>ok (status &lt; 400)</td><td>${r.requests.ok.toLocaleString('en-US')}</td></tr>
<tr><td>errors</td><td>${r.requests.errors.toLocaleString('en-US')}</td></tr>
<tr><td>dropped</td><td>${r.requests.dropped.toLocaleString('en-US')}</td></tr>
<tr><td>answered (latency is of these)</td><td>${r.answered.toLocaleString('en-US')}</td></tr>
<tr><td>waited for a new connection</td><td>${r.requests.queued.toLocaleString('en-US')}</td></tr>
<tr><td>waited, all connections busy (not in latency)</td><td>${r.requests.waited.toLocaleString('en-US')}</td></tr>
<tr><td>achieved / target</td><td>${pct(fraction)}</td></tr>
</table></div>
<div class="card"><h2>Status codes</h2>${kv(r.statusCodes, 'No responses.')}</div>
<div class="card"><h2>Errors by kind</h2>${kv(r.errorKinds, 'No errors.')}</div>
</section>

<section class="card">
<h2>Generator health</h2>
<p class="muted">Scheduler lateness: how late each request left compared with its slot. Milliseconds here are the generator's, not the target's.</p>
<table><thead><tr><th>worker</th><th>target req/s</th><th>achieved req/s</th><th>requests</th><th>errors</th><th>dropped</th><th>p99 latency</th><th>p99 lateness</th></tr></thead><tbody>
${r.perWorker.map((w) => `<tr><td>${w.workerIndex}${w.aborted ? ' (stopped)' : ''}</td><td>${fmt(w.rate.target)}</td><td>${fmt(w.rate.achieved)}</td><td>${w.requests.total.toLocaleString('en-US')}</td><td>${w.requests.errors.toLocaleString('en-US')}</td><td>${w.requests.dropped.toLocaleString('en-US')}</td><td>${ms(w.p99Ms)}</td><td>${ms(w.latenessP99Ms)}</td></tr>`).join('\n')}
</tbody></table>
<p class="muted">All workers: lateness p50 ${ms(r.latenessMs.p50)}, p99 ${ms(r.latenessMs.p99)}, max ${ms(r.latenessMs.max)}.</p>
</section>

<p class="muted">${text(r.schema)} &middot; the merged HdrHistogram (microseconds, compressed base64) is in report.json.</p>
</main>
</body>
</html>
`;
}
