/**
 * What the demo shows of a progressive deploy besides the pipeline's own progress and its production client
 * (local/production-client.ts): the traffic split of the service's load balancer at each step (read from the local
 * ALB's listener rules, as the AWS console shows a listener's weights).
 */
import type { LocalEcs } from '../local/ecs/server.ts';

/** Where a service deployment stands: its lifecycle stage and the new version's share of test / production traffic. */
export interface Split {
  readonly stage: string;
  readonly test: number;
  readonly production: number;
  readonly status: string;
}

/**
 * Calls `print` each time the service deployment a deploy started changes its traffic split (ECS's view, the weights
 * it set on the load balancer's rules) or its status; stop() ends the watch.
 */
export function watchSplit(
  ecs: LocalEcs,
  cluster: string,
  service: string,
  print: (split: Split) => void,
): { stop(): void } {
  let last = '';
  const before = ecs.serviceDeployments(cluster, service).at(-1)?.arn;
  const timer = setInterval(() => {
    // only the deployment this deploy started: none before it has begun
    const d = ecs.serviceDeployments(cluster, service).at(-1);
    if (d === undefined || d.arn === before) return;
    const key = `${d.testPercent}/${d.productionPercent}/${d.status}`;
    if (key === last) return;
    last = key;
    print({ stage: d.lifecycleStage, test: d.testPercent, production: d.productionPercent, status: d.status });
  }, 20);
  return { stop: () => clearInterval(timer) };
}
