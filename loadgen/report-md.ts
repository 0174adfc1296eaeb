/** summary.md: a short Markdown table and the verdict, for a pull request comment or a terminal. Pure. */
import type { LoadReport } from './types.ts';

const n = (v: number): string => v.toLocaleString('en-US');
const ms = (v: number): string => `${Number(v.toFixed(1))} ms`;
const pct = (v: number): string => `${Number((v * 100).toFixed(2))}%`;

export function verdictLine(report: LoadReport): string {
  const slo = report.slo;
  if (slo.verdict === 'inconclusive')
    return `**INCONCLUSIVE**: ${(slo.inconclusive ?? '').replace(/^inconclusive: /, '')}.`;
  if (slo.passed) return '**PASS**: every SLO held.';
  return `**FAIL**: ${slo.violations.length} SLO violation${slo.violations.length > 1 ? 's' : ''}.`;
}

export function renderSummaryMd(report: LoadReport): string {
  const r = report;
  const lines = [
    `# Load test: ${r.method} ${r.url}`,
    '',
    verdictLine(r),
    ...r.slo.violations.map((v) => `- ${v.message}`),
    ...(r.judge ? ['', `**JUDGE ${r.judge.verdict.toUpperCase()}**: ${r.judge.reason}`] : []),
    '',
    '| metric | value |',
    '|---|---:|',
    `| started | ${r.startedAt} |`,
    `| duration | ${r.durationSec} s |`,
    `| rate (achieved / target) | ${n(r.rate.achieved)} / ${n(r.rate.target)} req/s |`,
    `| requests | ${n(r.requests.total)} |`,
    `| errors | ${n(r.requests.errors)} (${pct(r.errorRate)}) |`,
    `| dropped | ${n(r.requests.dropped)} |`,
    `| answered (what latency is of) | ${n(r.answered)} |`,
    `| latency p50 / p90 / p95 | ${ms(r.latencyMs.p50)} / ${ms(r.latencyMs.p90)} / ${ms(r.latencyMs.p95)} |`,
    `| latency p99 / p99.9 / max | ${ms(r.latencyMs.p99)} / ${ms(r.latencyMs.p999)} / ${ms(r.latencyMs.max)} |`,
    `| scheduler lateness p99 | ${ms(r.latenessMs.p99)} |`,
    `| workers / connections used (max) | ${r.workers} / ${n(r.connections)} (${n(r.maxConnections)}) |`,
    `| waited for a connection, all busy | ${n(r.requests.waited)} (p99 ${ms(r.connectionWaitMs.p99)}, not in latency) |`,
    '',
    `Status codes: ${
      Object.entries(r.statusCodes)
        .map(([code, count]) => `${code} x ${n(count)}`)
        .join(', ') || 'none'
    }.${
      Object.keys(r.errorKinds).length > 0
        ? ` Errors: ${Object.entries(r.errorKinds)
            .map(([kind, count]) => `${kind} x ${n(count)}`)
            .join(', ')}.`
        : ''
    }`,
    '',
  ];
  return lines.join('\n');
}
