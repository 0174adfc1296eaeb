import {
  type DeploymentConfiguration,
  DescribeServiceDeploymentsCommand,
  ListServiceDeploymentsCommand,
  type ServiceDeploymentStatus,
  StopServiceDeploymentCommand,
} from '@aws-sdk/client-ecs';
import { OLD_TD } from '../unit/aws-fixtures.ts';
import type { fakeAws } from './fake-aws.ts';

/** One hook invocation as the fake ECS made it, and the hook's answer. */
export interface HookCall {
  readonly stage: string;
  readonly testPercent: number;
  readonly productionPercent: number;
  readonly rollback: boolean;
  readonly answer: string;
}

interface FakeDeployment {
  readonly arn: string;
  readonly taskDefinition: string;
  readonly config: DeploymentConfiguration;
  readonly createdAt: Date;
  status: ServiceDeploymentStatus;
  lifecycleStage: string;
  statusReason?: string;
}

export interface StrategyOptions {
  /** Milliseconds between hook calls answered IN_PROGRESS (ECS waits callBackDelay seconds). */
  readonly callBackMs: number;
  /** Milliseconds ECS bakes after the last production shift. */
  readonly bakeMs: number;
  /** ECS never calls the hook at this stage (a stuck deployment: the gate times out). */
  readonly stallAt?: string;
  /** Called as the deployment enters a stage. */
  readonly onStage?: (stage: string) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const BLUE = 'arn:aws:ecs:us-east-1:123456789012:service-revision/demo/demo-app/1';
const GREEN = 'arn:aws:ecs:us-east-1:123456789012:service-revision/demo/demo-app/2';

/**
 * ECS's BLUE_GREEN / CANARY / LINEAR deployments over the fake ECS, with the real hook Lambda: the service deployment
 * APIs (List, Describe, Stop with ROLLBACK), and a walk of each deployment's gates calling the hook as ECS does
 * (AWS's payload, again while IN_PROGRESS, again with the weights going back on a rollback).
 */
export function fakeStrategies(
  aws: ReturnType<typeof fakeAws>,
  invokeHook: (payload: unknown) => Promise<unknown>,
  options: StrategyOptions,
) {
  const deployments: FakeDeployment[] = [];
  const hookCalls: HookCall[] = [];
  const walks: Promise<void>[] = [];
  let n = 0;

  aws.behaviour.onProgressive = (input) => {
    const d: FakeDeployment = {
      arn: `arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/demo-app/sd${++n}`,
      taskDefinition: input.taskDefinition ?? '',
      config: input.deploymentConfiguration ?? {},
      createdAt: new Date(Date.now() + n),
      status: 'IN_PROGRESS',
      lifecycleStage: 'SCALE_UP',
    };
    deployments.push(d);
    walks.push(walk(d));
    return d.arn;
  };
  aws.ecsMock.on(ListServiceDeploymentsCommand).callsFake((i) => ({
    serviceDeployments: deployments
      .filter((d) => !i.status || i.status.includes(d.status))
      .map((d) => ({ serviceDeploymentArn: d.arn, status: d.status, createdAt: d.createdAt })),
  }));
  aws.ecsMock.on(DescribeServiceDeploymentsCommand).callsFake((i) => ({
    serviceDeployments: deployments
      .filter((d) => i.serviceDeploymentArns?.includes(d.arn))
      .map((d) => ({
        serviceDeploymentArn: d.arn,
        status: d.status,
        lifecycleStage: d.lifecycleStage,
        ...(d.statusReason ? { statusReason: d.statusReason } : {}),
      })),
  }));
  aws.ecsMock.on(StopServiceDeploymentCommand).callsFake((i) => {
    const d = deployments.find((x) => x.arn === i.serviceDeploymentArn);
    if (d?.status !== 'IN_PROGRESS') {
      throw Object.assign(new Error('the service deployment is not in progress'), { name: 'ConflictException' });
    }
    d.status = 'ROLLBACK_REQUESTED';
    d.statusReason = 'StopServiceDeployment (ROLLBACK)';
    return { serviceDeploymentArn: d.arn };
  });

  async function callHooks(d: FakeDeployment, stage: string, test: number, production: number, rollback: boolean) {
    const hooks = (d.config.lifecycleHooks ?? []).filter((h) => h.lifecycleStages?.includes(stage as never));
    for (const hook of hooks) {
      for (;;) {
        if (!rollback && d.status !== 'IN_PROGRESS') return 'STOPPED';
        const payload = {
          executionDetails: {
            serviceArn: 'arn:aws:ecs:us-east-1:123456789012:service/demo/demo-app',
            targetServiceRevisionArn: GREEN,
            testTrafficWeights: { [BLUE]: 100 - test, [GREEN]: test },
            productionTrafficWeights: { [BLUE]: 100 - production, [GREEN]: production },
          },
          executionId: `hook-${n}`,
          lifecycleStage: stage,
          resourceArn: d.arn,
          hookDetails: hook.hookDetails,
        };
        const answer = await invokeHook(payload).then(
          (a) => String((a as { hookStatus?: unknown } | null)?.hookStatus),
          (e: Error) => `ERROR ${e.name}`,
        );
        hookCalls.push({ stage, testPercent: test, productionPercent: production, rollback, answer });
        // during a rollback ECS tells the hooks, it does not wait for them
        if (rollback || answer === 'SUCCEEDED') break;
        if (answer !== 'IN_PROGRESS') return 'FAILED';
        await sleep(options.callBackMs);
      }
    }
    return 'SUCCEEDED';
  }

  async function rollBack(d: FakeDeployment, reason: string) {
    d.status = 'ROLLBACK_IN_PROGRESS';
    d.statusReason = reason;
    await callHooks(d, 'PRODUCTION_TRAFFIC_SHIFT', 100, 0, true);
    await callHooks(d, 'TEST_TRAFFIC_SHIFT', 0, 0, true);
    aws.settleTo(OLD_TD);
    d.status = 'ROLLBACK_SUCCESSFUL';
  }

  function productionShares(config: DeploymentConfiguration): number[] {
    if (config.strategy === 'CANARY') return [config.canaryConfiguration?.canaryPercent ?? 5, 100];
    if (config.strategy === 'LINEAR') {
      const step = config.linearConfiguration?.stepPercent ?? 10;
      const shares: number[] = [];
      for (let s = step; s < 100; s += step) shares.push(s);
      return [...shares, 100];
    }
    return [100];
  }

  async function walk(d: FakeDeployment): Promise<void> {
    const enter = (stage: string) => {
      d.lifecycleStage = stage;
      options.onStage?.(stage);
    };
    const steps: [string, number, number][] = [
      ['POST_TEST_TRAFFIC_SHIFT', 100, 0],
      ...productionShares(d.config).map((p): [string, number, number] => ['PRODUCTION_TRAFFIC_SHIFT', 100, p]),
    ];
    for (const [stage, test, production] of steps) {
      enter(stage);
      if (stage === options.stallAt) {
        while (d.status === 'IN_PROGRESS') await sleep(options.callBackMs);
      }
      const outcome = await callHooks(d, stage, test, production, false);
      if (outcome !== 'SUCCEEDED' || d.status !== 'IN_PROGRESS') {
        return rollBack(d, outcome === 'FAILED' ? `the hook failed at ${stage}` : (d.statusReason ?? 'stopped'));
      }
    }
    enter('BAKE_TIME');
    const bakeEnd = Date.now() + options.bakeMs;
    while (Date.now() < bakeEnd && d.status === 'IN_PROGRESS') await sleep(10);
    if (d.status !== 'IN_PROGRESS') return rollBack(d, d.statusReason ?? 'stopped');
    enter('CLEAN_UP');
    aws.settleTo(d.taskDefinition);
    d.status = 'SUCCESSFUL';
  }

  return {
    deployments,
    hookCalls,
    /** Every walk started so far, ended. */
    settled: () => Promise.all(walks),
  };
}
