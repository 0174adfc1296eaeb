/**
 * A service's local ALB as ECS's blue/green deployments see it: two target groups (`blue` = the service's
 * `targetGroupArn`, `green` = `advancedConfiguration.alternateTargetGroupArn`), the production listener's default rule
 * (`productionListenerRule`), the test route (`testListenerRule`: the test listener's default rule when the service
 * has a test listener port, else a rule on the production listener with the service's test header; both are moved
 * when both exist), and which target group serves production now. At rest every rule forwards to the live group.
 */
import type { LoadBalancer } from '../lb.ts';
import type { LocalServiceSpec } from '../types.ts';
import { alternateTargetGroupArn, type ServiceLoadBalancer, type TargetGroupName } from './model.ts';

/** The priority of the test header rule on the production listener (evaluated before the default rule). */
const TEST_HEADER_PRIORITY = 1;

export const otherGroup = (tg: TargetGroupName): TargetGroupName => (tg === 'blue' ? 'green' : 'blue');

export const elbArnPrefix = (region: string, accountId: string): string =>
  `arn:aws:elasticloadbalancing:${region}:${accountId}`;

/** The test route of a configured service, as its load balancer record keeps it. */
export function testRoute(spec: LocalServiceSpec): Pick<ServiceLoadBalancer, 'testPort' | 'testHeader'> {
  return {
    ...(spec.testListenerPort === undefined ? {} : { testPort: spec.testListenerPort }),
    ...(spec.testHeader === undefined ? {} : { testHeader: { ...spec.testHeader } }),
  };
}

/** A persisted service's wiring with the config's ports, health check and test route (the config wins). */
export function configuredWiring(record: ServiceLoadBalancer, spec: LocalServiceSpec): ServiceLoadBalancer {
  const { testPort: _port, testHeader: _header, ...kept } = record;
  return { ...kept, port: spec.loadBalancerPort, healthCheckPath: spec.healthCheckPath, ...testRoute(spec) };
}

/** Fills in the fields of advancedConfiguration that do not depend on the running load balancer. */
export function withAlternate(
  record: ServiceLoadBalancer,
  where: { region: string; accountId: string; cluster: string; service: string },
): void {
  const { region, accountId, cluster, service } = where;
  record.alternateTargetGroupArn ??= alternateTargetGroupArn(region, accountId, cluster, service);
  record.roleArn ??= `arn:aws:iam::${accountId}:role/ecsInfrastructureRoleForLoadBalancers`;
  record.liveTargetGroup ??= 'blue';
}

/**
 * Once the load balancer runs: the test header rule (if any), the rule ARNs in the record, and every rule forwarding
 * to the live target group (what a finished deployment left: after a restart the ALB starts over on blue).
 */
export function wireAlb(lb: LoadBalancer, record: ServiceLoadBalancer): void {
  const live = record.liveTargetGroup ?? 'blue';
  if (record.testHeader !== undefined) {
    lb.createRule('production', {
      priority: TEST_HEADER_PRIORITY,
      conditions: [{ httpHeaderName: record.testHeader.name, values: [record.testHeader.value] }],
      forward: [{ targetGroup: live, weight: 1 }],
    });
  }
  record.productionListenerRule = lb.defaultRule('production');
  const [testRule] = testRules(lb, record);
  if (testRule === undefined) delete record.testListenerRule;
  else record.testListenerRule = testRule;
  for (const listener of ['production', 'test'] as const) {
    for (const rule of lb.rules(listener)) lb.setWeights(rule.arn, { [live]: 1, [otherGroup(live)]: 0 });
  }
}

/** The rules a strategy deployment moves as test traffic: the test listener's, then the header rule. */
export function testRules(lb: LoadBalancer, record: ServiceLoadBalancer): string[] {
  const rules: string[] = [];
  if (record.testPort !== undefined) rules.push(lb.defaultRule('test'));
  if (record.testHeader !== undefined) {
    const header = lb.rules('production').find((r) => r.priority === TEST_HEADER_PRIORITY);
    if (header !== undefined) rules.push(header.arn);
  }
  return rules;
}
