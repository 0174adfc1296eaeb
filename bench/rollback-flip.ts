/**
 * How fast a rollback takes production back to the old version on the local cloud (`npm run bench:rollback-flip`):
 * a CANARY at 10% on the local ECS (real demo-app processes behind the local ALB), a client sending one request after
 * another to the production listener, then StopServiceDeployment ROLLBACK through the SDK. Per round:
 * - `api`: the StopServiceDeployment round trip;
 * - `rule`: from sending it to the production rule forwarding to blue only (polled on every turn of the event loop);
 * - `lastGreen`: from sending it to the start of the last request the new version answered (negative: none started
 *   after the request was sent);
 * - `engine`: the service deployment's own `rollbackFlipMs`, from its decision to roll back to the weight flip.
 * BENCH_ROUNDS rounds (default 5), each a new version.
 */
import {
  DescribeServiceDeploymentsCommand,
  StopServiceDeploymentCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { Agent, request } from 'undici';
import { demoSpec, ecsClient, registerImage, startTestEcs, tempDir } from '../test/local/support.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const tmp = tempDir();
const ecs = await startTestEcs(tmp.dir, { spec: demoSpec(), healthCheckIntervalMs: 100, minuteMs: 60_000 });
const client = ecsClient(ecs.endpoint);
const lb = ecs.loadBalancer('demo', 'demo-app');
const production = ecs.loadBalancerUrl('demo', 'demo-app');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function status(arn: string) {
  const out = await client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }));
  return out.serviceDeployments?.[0];
}

const figures: Array<{ api: number; rule: number; lastGreen: number; engine: number }> = [];
try {
  for (let round = 0; round < rounds; round++) {
    const version = `v${round + 2}`;
    const taskDefinition = await registerImage(client, `demo-app:${version}`);
    const out = await client.send(
      new UpdateServiceCommand({
        cluster: 'demo',
        service: 'demo-app',
        taskDefinition,
        deploymentConfiguration: {
          strategy: 'CANARY',
          canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 1 },
        },
      }),
    );
    const arn = out.service?.currentServiceDeployment ?? '';
    while ((await status(arn))?.targetServiceRevision?.requestedProductionTrafficWeight !== 10) await sleep(20);

    // One request after another, each with the time it started.
    const agent = new Agent({ connections: 1 });
    const answers: Array<{ at: number; version: string }> = [];
    let polling = true;
    const sender = (async () => {
      while (polling) {
        const at = performance.now();
        const res = await request(`${production}/`, { dispatcher: agent });
        answers.push({ at, version: ((await res.body.json()) as { version: string }).version });
      }
    })();
    await sleep(500);
    const rule = () => lb?.rules('production').find((r) => r.priority === 'default');
    const sent = performance.now();
    let flipped: number | undefined;
    const watch = (async () => {
      while (rule()?.forward.find((f) => f.targetGroup !== 'blue')?.weight !== 0) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      flipped = performance.now();
    })();
    await client.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType: 'ROLLBACK' }));
    const answered = performance.now();
    await watch;
    await sleep(500);
    polling = false;
    await sender;
    await agent.close();
    while ((await status(arn))?.status !== 'ROLLBACK_SUCCESSFUL') await sleep(50);
    const green = answers.filter((a) => a.version === version);
    const engine = ecs.serviceDeployments('demo', 'demo-app').at(-1)?.rollbackFlipMs ?? Number.NaN;
    figures.push({
      api: answered - sent,
      rule: (flipped ?? Number.NaN) - sent,
      lastGreen: (green.at(-1)?.at ?? Number.NaN) - sent,
      engine,
    });
    console.log(
      `round ${round + 1}: ${green.length} of ${answers.length} requests to ${version}; api ${(answered - sent).toFixed(1)} ms, rule ${((flipped ?? Number.NaN) - sent).toFixed(1)} ms, last request answered by ${version} started ${((green.at(-1)?.at ?? Number.NaN) - sent).toFixed(1)} ms after the request, engine flip ${engine.toFixed(3)} ms`,
    );
  }
  const max = (key: keyof (typeof figures)[number]) => Math.max(...figures.map((f) => f[key])).toFixed(1);
  console.log(
    `rollback flip over ${rounds} rounds (max): api ${max('api')} ms, rule ${max('rule')} ms, last request to the new version ${max('lastGreen')} ms, engine ${max('engine')} ms`,
  );
} finally {
  client.destroy();
  await ecs.close();
  tmp.remove();
}
