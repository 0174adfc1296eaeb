/** Writes a load report's three files: report.json (`rollgate.loadtest.v1`), report.html and summary.md. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderReportHtml } from './report-html.ts';
import { renderSummaryMd } from './report-md.ts';
import type { LoadReport } from './types.ts';

export { renderReportHtml } from './report-html.ts';
export { renderSummaryMd, verdictLine } from './report-md.ts';

export interface ReportPaths {
  json: string;
  html: string;
  markdown: string;
}

/** Creates `dir` if needed and writes report.json, report.html and summary.md into it; returns their paths. */
export async function writeReportFiles(dir: string, report: LoadReport): Promise<ReportPaths> {
  await mkdir(dir, { recursive: true });
  const paths: ReportPaths = {
    json: join(dir, 'report.json'),
    html: join(dir, 'report.html'),
    markdown: join(dir, 'summary.md'),
  };
  await Promise.all([
    writeFile(paths.json, `${JSON.stringify(report, null, 2)}\n`),
    writeFile(paths.html, renderReportHtml(report)),
    writeFile(paths.markdown, renderSummaryMd(report)),
  ]);
  return paths;
}
