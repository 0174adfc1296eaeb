import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { RunSummary } from '../../local/history.ts';
import { startProductionClient } from '../../local/production-client.ts';
import type { LocalRunner } from '../../local/runner.ts';
import type { Target } from '../../src/config/schema.ts';
import type { Outcome } from '../../src/core/audit.ts';
import { LOCAL_OPTIONS, parseFlags, stateDirOf } from '../args.ts';
import { loadConfig } from '../config.ts';
import { localEcsClient, resetServices } from '../demo-reset.ts';
import { watchSplit } from '../demo-traffic.ts';
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
  /**
   * A progressive deploy, watched by a production client (a request every 10 ms): `untouched`, no production request
   * may reach the new version and none may fail; `canary`, the new version answers a share of production, then none;
   * `clean`, no production request fails and the new version serves all of it at the end.
   */
  readonly production?: 'untouched' | 'canary' | 'clean';
}

/** The demo's parallel tracks: the rolling deploys, and one per progressive service (a service deploys one at a time). */
function trackOf(scenario: Scenario): string {
  return scenario.production ? scenario.repository : 'rolling';
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
  {
    title: 'blue/green, slow on the test listener',
    repository: 'checkout',
    tag: 'v4-slow',
    expect: 'ROLLED_BACK',
    because: /^SLO gate failed: p95/,
    production: 'untouched',
  },
  {
    title: 'blue/green, 25% slower than v1, judged',
    repository: 'checkout',
    tag: 'v5-slower',
    expect: 'ROLLED_BACK',
    because: /^judge failed the new version: judge Fail: p50 \+\d+%/,
    production: 'untouched',
  },
  {
    title: 'blue/green, good version, judged',
    repository: 'checkout',
    tag: 'v6',
    expect: 'DEPLOYED',
    because: /rollout completed.*judge Pass/,
    production: 'clean',
  },
  {
    title: 'canary, half its answers 500',
    repository: 'catalog',
    tag: 'v5-flaky',
    expect: 'ROLLED_BACK',
    because: /^SLO gate failed: error rate/,
    production: 'canary',
  },
  {
    title: 'canary, good version',
    repository: 'catalog',
    tag: 'v2',
    expect: 'DEPLOYED',
    because: /rollout completed/,
    production: 'clean',
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
  // Tracks in parallel: the rolling deploys of demo-app, and the progressive ones of each other service (blue/green
  // checkout, canary catalog); the scenarios of a track in order.
  const targets = new Map(runner.config.targets.map((t) => [t.repository, t]));
  const tracks = new Map<string, { scenario: Scenario; target: Target }[]>();
  for (const scenario of SCENARIOS) {
    const target = targets.get(scenario.repository);
    if (target === undefined) continue; // a config without this service (some tests use the first alone)
    const key = trackOf(scenario);
    tracks.set(key, [...(tracks.get(key) ?? []), { scenario, target }]);
  }
  const results: { scenario: Scenario; summary: RunSummary; ok: boolean }[] = [];
  const build = randomUUID();
  await Promise.all(
    [...tracks.values()].map(async (track) => {
      for (const { scenario, target } of track) {
        results.push(await runScenario(runner, io, scenario, target, options.quiet, build));
      }
    }),
  );
  results.sort((a, b) => SCENARIOS.indexOf(a.scenario) - SCENARIOS.indexOf(b.scenario));
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
  const serving = lb ? await servingVersion(`http://127.0.0.1:${lb.loadBalancerPort}/`) : undefined;
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

/** Runs one scenario and prints its outcome (as one block: the tracks run in parallel). */
async function runScenario(
  runner: LocalRunner,
  io: Io,
  scenario: Scenario,
  { cluster, service }: Pick<Target, 'cluster' | 'service'>,
  quiet: boolean,
  build: string,
): Promise<{ scenario: Scenario; summary: RunSummary; ok: boolean }> {
  const image = `${scenario.repository}:${scenario.tag}`;
  // what starts, at once; what happened, as one block when the scenario ends (the tracks run in parallel: their
  // blocks must not interleave)
  io.stdout(`\n${colour.bold(`push ${image}`)} (${scenario.title}; expect ${scenario.expect})\n`);
  const lines = [`${colour.bold(image)} (${scenario.title}):`];
  const productionUrl = runner.cloud.ecs.loadBalancerUrl(cluster, service);
  const client = scenario.production ? startProductionClient(`${productionUrl}/`) : undefined;
  const watch = scenario.production
    ? watchSplit(runner.cloud.ecs, cluster, service, (split) =>
        lines.push(
          colour.dim(
            `  ${image.padEnd(20)} ${split.stage.toLowerCase().replaceAll('_', ' ')}: test ${split.test}%, ` +
              `production ${split.production}% on ${scenario.tag} (${split.status.toLowerCase().replaceAll('_', ' ')})`,
          ),
        ),
      )
    : undefined;
  // a build of this demo run: the same tag pushed by an earlier demo was another image (another digest), so the
  // duplicate-delivery check (which remembers pushes between runs) sees a new push, as it would on AWS
  const digest = await runner.cloud.registry.pushImage(
    scenario.repository,
    scenario.tag,
    `sha256:${createHash('sha256').update(`${scenario.repository}:${scenario.tag}:${build}`).digest('hex')}`,
  );
  const stored = await runner.run(pushEvent(runner, scenario.repository, scenario.tag, digest), {
    onEvent: progressPrinter(io, image.padEnd(20), quiet),
  });
  watch?.stop();
  const traffic = await client?.stop();
  const s = stored.summary;
  let ok = s.outcome === scenario.expect && scenario.because.test(s.reason);
  const out: string[] = [];
  out.push(
    `  ${outcomeColour(s.outcome)} ${ok ? colour.green('as expected') : colour.red(`expected ${scenario.expect}`)}: ${s.reason}`,
  );
  if (traffic !== undefined) {
    const byNew = traffic.byVersion[scenario.tag] ?? 0;
    const serving = await servingVersion(productionUrl);
    const held =
      scenario.production === 'untouched'
        ? byNew === 0 && traffic.failed === 0
        : scenario.production === 'canary'
          ? byNew > 0 && serving !== scenario.tag
          : traffic.failed === 0 && serving === scenario.tag;
    ok &&= held;
    out.push(
      `  production client (a request every 10 ms): ${traffic.total} requests, ${byNew} answered by ${scenario.tag}, ` +
        `${traffic.failed} failed; now serving ${serving ?? '?'} ${held ? colour.green('as expected') : colour.red('NOT as expected')}`,
    );
  }
  if (s.reportFile) out.push(`  load test report: ${path.relative(process.cwd(), s.reportFile)}`);
  for (const event of await runner.eventsOf(s.executionName)) out.push(`  event: ${event}`);
  io.stdout(`\n${[...lines, ...out].join('\n')}\n`);
  return { scenario, summary: s, ok };
}

async function servingVersion(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${url.replace(/\/$/, '')}/`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { version?: string };
    return body.version;
  } catch {
    return undefined;
  }
}
