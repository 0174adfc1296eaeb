/**
 * The judge's part of report.html: both versions' latency percentile curves overlaid (the candidate's and its
 * baseline's), the per-metric table with class and interval, the score and the verdict. Pure.
 */
import { decodeHistogram, percentileCurve } from './histograms.ts';
import { escapeHtml, type Frame, fmt, niceMax, nines, percentileAxis, polyline, svgOpen, yGrid } from './svg-chart.ts';
import type { JudgeReport, LoadReport } from './types.ts';

const text = (s: string): string => escapeHtml(s).replace(/:\/\//g, '&#58;//');
const signed = (n: number, digits: number) => `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;

/** CSS the judge's section adds to the page's. */
export const JUDGE_CSS = `.line.baseline{stroke:var(--muted);stroke-dasharray:6 4}.line.candidate{stroke:var(--accent)}
.verdict.marginal{border-color:var(--warn)}.verdict.marginal .badge{background:var(--warn)}.pill.none{background:var(--muted)}`;

/** The baseline's latency histogram: the paired run's, or the earlier report's the judge kept. */
function baselineLatency(report: LoadReport): string | undefined {
  return report.baseline?.histograms.latencyUs ?? report.judge?.baseline.latencyUs;
}

/** Both versions' percentile curves on one chart (log "1/(1-p)" axis, as the main chart). */
export function comparisonChart(report: LoadReport): string {
  const encoded = baselineLatency(report);
  if (encoded === undefined) return '<p class="muted">No baseline latency to draw.</p>';
  const curves = [
    { cls: 'baseline', curve: percentileCurve(decodeHistogram(encoded)).filter((c) => c.percentile < 100) },
    {
      cls: 'candidate',
      curve: percentileCurve(decodeHistogram(report.histograms.latencyUs)).filter((c) => c.percentile < 100),
    },
  ];
  const all = curves.flatMap((c) => c.curve);
  if (all.length === 0) return '<p class="muted">No latency was recorded.</p>';
  const f: Frame = { width: 760, height: 300, left: 64, right: 20, top: 16, bottom: 40 };
  const maxX = Math.max(2, Math.ceil(Math.max(...all.map((c) => nines(c.percentile)))));
  const maxY = niceMax(Math.max(...all.map((c) => c.ms)) * 1.05);
  const h = f.height - f.top - f.bottom;
  const { x, grid } = percentileAxis(f, maxX);
  const y = (v: number): number => f.top + h - (v / maxY) * h;
  let out = svgOpen(f, 'Latency by percentile, candidate and baseline') + yGrid(f, maxY, '') + grid;
  out += `<text class="axis" x="14" y="${f.top + h / 2}" transform="rotate(-90 14 ${f.top + h / 2})" text-anchor="middle">latency (ms)</text>`;
  for (const { cls, curve } of curves) {
    out += polyline(
      curve.map((c): [number, number] => [x(c.percentile), y(c.ms)]),
      `line ${cls}`,
    ).replace('<path ', `<path data-version="${cls}" `);
  }
  return `${out}</svg>`;
}

function metricRow(m: JudgeReport['metrics'][number]): string {
  const latency = m.metric === 'latency';
  const value = (v: number | null) =>
    v === null ? '<span class="muted">no data</span>' : latency ? `${fmt(v)} ms` : `${(v * 100).toFixed(2)}%`;
  const change =
    m.change === null ? '&ndash;' : latency ? `${signed(m.change * 100, 1)}%` : `${signed(m.change * 100, 2)} pp`;
  const interval = m.shift
    ? `HL ${signed(m.shift.estimate, 2)} ms [${signed(m.shift.low, 2)}, ${signed(m.shift.high, 2)}]`
    : '&ndash;';
  const pill = m.class === 'NoData' ? 'none' : m.passed ? 'ok' : 'bad';
  return `<tr data-metric="${m.metric}"><td>${latency ? 'latency' : 'error rate'}${m.critical ? ' <span class="muted">(critical)</span>' : ''}</td><td><span class="pill ${pill}">${m.class}</span></td><td>${value(m.baseline)}</td><td>${value(m.candidate)}</td><td>${change}</td><td>${interval}</td><td>${m.p === null ? '&ndash;' : m.p < 0.0001 ? '&lt; 0.0001' : m.p.toFixed(4)}</td><td>${m.samples.baseline.toLocaleString('en-US')} / ${m.samples.candidate.toLocaleString('en-US')}</td></tr>`;
}

/** The judge's section, or '' when the report has no judge. */
export function judgeSection(report: LoadReport): string {
  const j = report.judge;
  if (!j) return '';
  const cls =
    j.verdict === 'Pass' ? 'pass' : j.verdict === 'Fail' ? 'fail' : j.verdict === 'Marginal' ? 'marginal' : 'none';
  const level = `${Number((j.confidence * 100).toFixed(2))}%`;
  const against =
    j.comparison === 'paired'
      ? `paired: the same arrival schedule sent to the baseline (${text(j.baseline.url ?? 'production')}) at the same moments`
      : j.comparison === 'across-time'
        ? `across time: against the report of the last DEPLOYED execution ${text(j.baseline.execution ?? '')} (${text(j.baseline.startedAt ?? '')}); not the same moment, so other traffic and another machine state may differ`
        : 'nothing to compare with';
  const table =
    j.metrics.length === 0
      ? ''
      : `<table id="judge-metrics"><thead><tr><th>metric</th><th>class</th><th>baseline</th><th>candidate</th><th>change</th><th>shift, ${level} interval</th><th>p</th><th>samples (base / cand)</th></tr></thead><tbody>
${j.metrics.map(metricRow).join('\n')}
</tbody></table>`;
  return `<section class="card verdict ${cls}" id="judge">
<div class="badge">JUDGE ${text(j.verdict.toUpperCase())}</div>
<div><strong>Candidate against baseline${j.score === null ? '' : `: score ${Math.round(j.score)}`}.</strong> ${text(j.reason)}
<p class="muted">Comparison ${against}. Mann-Whitney U and Hodges-Lehmann at ${level} confidence on the latency histograms, Fisher's exact test on the error rates.</p></div>
</section>
${
  j.comparison === 'none'
    ? ''
    : `<section class="card"><h2>Candidate against baseline</h2>
${comparisonChart(report)}
<div class="legend"><span><i style="background:var(--accent)"></i>candidate</span><span><i style="background:var(--muted)"></i>baseline</span></div>
${table}
</section>`
}`;
}
