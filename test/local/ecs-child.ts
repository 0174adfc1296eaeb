// Started by ecs-persistence.test.ts as a separate process, which the test then SIGKILLs: starts the local ECS on the
// state directory given as argv[2], prints one JSON line with its task pids and load balancer port, and waits.
import { startTestEcs } from './support.ts';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: ecs-child.ts STATE_DIR');
const ecs = await startTestEcs(dir);
const pids = ecs.tasks().flatMap((t) => (t.lastStatus === 'RUNNING' && t.pid !== undefined ? [t.pid] : []));
const lbPort = Number(new URL(ecs.loadBalancerUrl('demo', 'demo-app')).port);
process.stdout.write(`${JSON.stringify({ pids, lbPort })}\n`);
setInterval(() => undefined, 60_000);
