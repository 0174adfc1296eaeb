import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { RunSummary } from '../../local/history.ts';
import type { LocalRunner } from '../../local/runner.ts';
import type { Outcome } from '../../src/core/audit.ts';
import { LOCAL_OPTIONS, parseFlags, stateDirOf } from '../args.ts';
import { loadConfig } from '../config.ts';
import { localEcsClient, resetServices } from '../demo-reset.ts';
import { EXIT } from '../exit.ts';
import type { Io } from '../io.ts';
import { withLocalRunner } from '../local-runner.ts';
import { colour, duration, outcomeColour, progressPrinter, table } from '../output.ts';

const USAGE = 'rollgate demo [--quiet] [--config FILE] [--state-dir DIR]';

/** `rollgate demo` (npm start): the scenarios on the local cloud; exit 0 when each ended as expected. */
export async function command(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags(io, argv, USAGE, LOCAL_OPTIONS);
  if (!flags) return EXIT.ok;
  const { config, configFile } = loadConfig(flags.values.config, io);
  const stateDir = stateDirOf(flags.values['state-dir'], io);
  return withLocalRunner(io, { config, configFile, stateDir }, (runner) =>
    runDemo(runner, io, { quiet: flags.values.quiet }),
  );
}

/** One demo step: push an image, expect an outcome (and what the reason must mention). */
export interface Scenario {
  readonly title: string;
  readonly repository: string;
  readonly tag: string;
  readonly expect: Outcome;
  readonly because: RegExp;
}

export const SCENARIOS: readonly Scenario[] = [
  { title: 'good version', repository: 'demo-app', tag: 'v2', expect: 'DEPLOYED', because: /rollout completed/ },
  {
    title: 'fails its health check',
    repository: 'demo-app',
    tag: 'v3-unhealthy',
    expect: 'ROLLED_BACK',
    because: /^health check failed/,
  },
  {
    title: 'crashes on start',
    repository: 'demo-app',
    tag: 'v3-crash',
    expect: 'ROLLED_BACK',
    because: /^rollout failed/,
  },
  {
    title: '300 ms slower',
    repository: 'demo-app',
    tag: 'v4-slow',
    expect: 'ROLLED_BACK',
    because: /^SLO gate failed/,
  },
];

/** An EventBridge "ECR Image Action" push event, exactly as ECR sends it, for an image pushed to the local registry. */
export function pushEvent(
  runner: LocalRunner,
  repository: string,
  tag: string,
  digest: string,
): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'ECR Image Action',
    source: 'aws.ecr',
    account: runner.cloud.spec.accountId,
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    region: runner.cloud.spec.region,
    resources: [],
    detail: {
      result: 'SUCCESS',
      'repository-name': repository,
      'image-digest': digest,
      'action-type': 'PUSH',
      'image-tag': tag,
    },
  };
}

/**
 * The demo: push each scenario's image to the local registry, let the pipeline run on the push event, and print
 * a table. Exit 0 when every scenario ended as expected.
 */
export async function runDemo(runner: LocalRunner, io: Io, options: { readonly quiet: boolean }): Promise<number> {
  const out = (s: string) => io.stdout(`${s}\n`);
  const lb = runner.cloud.spec.clusters[0]?.services[0];
  out(colour.bold('rollgate demo: the deploy pipeline on a local cloud (no AWS account needed)'));
  out(
    colour.dim(
      `  ECS endpoint ${runner.cloud.ecs.endpoint}, S3 ${runner.cloud.s3.endpoint}${lb ? `, load balancer http://127.0.0.1:${lb.loadBalancerPort}/` : ''}`,
    ),
  );
  // each demo starts from the services' initial versions, whatever the last one left
  const ecs = localEcsClient(runner.cloud.ecs.endpoint, runner.cloud.spec.region);
  try {
    await resetServices(ecs, runner.cloud.spec, (line) => out(colour.dim(`  ${line}`)));
  } finally {
    ecs.destroy();
  }
  const results: { scenario: Scenario; summary: RunSummary; ok: boolean }[] = [];
  for (const scenario of SCENARIOS) {
    const image = `${scenario.repository}:${scenario.tag}`;
    out(`\n${colour.bold(`push ${image}`)} (${scenario.title}; expect ${scenario.expect})`);
    const digest = await runner.cloud.registry.pushImage(scenario.repository, scenario.tag);
    const stored = await runner.run(pushEvent(runner, scenario.repository, scenario.tag, digest), {
      onEvent: progressPrinter(io, scenario.tag.padEnd(13), options.quiet),
    });
    const s = stored.summary;
    const ok = s.outcome === scenario.expect && scenario.because.test(s.reason);
    results.push({ scenario, summary: s, ok });
    out(
      `  ${outcomeColour(s.outcome)} ${ok ? colour.green('as expected') : colour.red(`expected ${scenario.expect}`)}: ${s.reason}`,
    );
    if (s.reportFile) out(`  load test report: ${path.relative(process.cwd(), s.reportFile)}`);
    for (const event of await runner.eventsOf(s.executionName)) out(`  event: ${event}`);
  }
  out('');
  out(
    table(
      ['scenario', 'image', 'outcome', 'reason', 'duration'],
      results.map(({ scenario, summary, ok }) => [
        scenario.title,
        (summary.image ?? '?').replace(/ \(sha256:.*\)$/, ''),
        `${summary.outcome}${ok ? '' : ' (UNEXPECTED)'}`,
        summary.reason,
        duration(summary.durationMs),
      ]),
      80,
    ),
  );
  const serving = lb ? await servingVersion(lb.loadBalancerPort) : undefined;
  if (serving) out(`\nthe service now serves ${colour.bold(serving)} (http://127.0.0.1:${lb?.loadBalancerPort}/)`);
  const reports = results.filter((r) => r.summary.reportFile);
  if (reports.length > 0) {
    out('\nload test reports (open in a browser):');
    for (const r of reports)
      out(`  ${r.scenario.tag.padEnd(14)} ${path.relative(process.cwd(), r.summary.reportFile ?? '')}`);
  }
  out(
    colour.dim(
      '\naudit trail: npx rollgate history   DORA figures: npx rollgate metrics   state: .rollgate/ (npx rollgate reset)',
    ),
  );
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    out(
      colour.red(
        `\n${failed.length} scenario(s) did not end as expected: ${failed.map((f) => f.scenario.title).join(', ')}`,
      ),
    );
    return EXIT.error;
  }
  out(colour.green(`\nall ${results.length} scenarios ended as expected`));
  return EXIT.ok;
}

async function servingVersion(port: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { version?: string };
    return body.version;
  } catch {
    return undefined;
  }
}
