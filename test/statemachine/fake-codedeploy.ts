import {
  BatchGetDeploymentsCommand,
  CodeDeployClient,
  CreateDeploymentCommand,
  DeploymentAlreadyCompletedException,
  type DeploymentInfo,
  LifecycleEventAlreadyCompletedException,
  ListDeploymentsCommand,
  PutLifecycleEventHookExecutionStatusCommand,
  StopDeploymentCommand,
} from '@aws-sdk/client-codedeploy';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { deployment, OLD_TD, service } from '../unit/aws-fixtures.ts';
import type { fakeAws } from './fake-aws.ts';

/**
 * CodeDeploy over the fake ECS, with rollgate's real hook Lambdas: CreateDeployment reads the AppSpec and walks its
 * hooks in order, invoking each hook once with CodeDeploy's payload and waiting for its status
 * (PutLifecycleEventHookExecutionStatus); a Failed status, a failure of its own (`failBeforeHooks`) or StopDeployment
 * ends the deployment and a rollback deployment puts the old revision back. The harness has one health endpoint, which
 * serves what the fake ECS runs: the new revision from Install on (what the gates' test route reaches), the old one
 * again after a rollback. The fake ECS answers DescribeServices for a CODE_DEPLOY service (or an ECS one).
 */
export interface CodeDeployOptions {
  /** The service's deployment controller DescribeServices shows. */
  readonly controller?: 'ECS' | 'CODE_DEPLOY';
  /** The deployment fails before its first hook (as a replacement task set that never gets healthy). */
  readonly failBeforeHooks?: boolean;
  /** CodeDeploy never invokes this hook (a stuck deployment: the gate times out). */
  readonly stallAt?: string;
}

interface FakeDeployment {
  info: DeploymentInfo;
  hooks: Array<{ event: string; id: string; status: 'InProgress' | 'Succeeded' | 'Failed' }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function fakeCodeDeploy(
  aws: ReturnType<typeof fakeAws>,
  invoke: Readonly<Record<string, (payload: unknown) => Promise<unknown>>>,
  options: CodeDeployOptions = {},
) {
  const mock = mockClient(CodeDeployClient);
  const deployments = new Map<string, FakeDeployment>();
  const waits = new Map<string, (status: 'Succeeded' | 'Failed') => void>();
  const walks: Promise<void>[] = [];
  let n = 0;

  aws.ecsMock.on(DescribeServicesCommand).callsFake(() => ({
    services: [
      {
        ...service([deployment({ taskDefinition: aws.current() ?? OLD_TD })]),
        deploymentController: { type: options.controller ?? 'CODE_DEPLOY' },
        loadBalancers: [{ targetGroupArn: 'arn:tg/blue', containerName: 'web', containerPort: 8080 }],
      },
    ],
  }));

  const end = (d: FakeDeployment, status: 'Failed' | 'Stopped', message: string) => {
    const rollbackId = `d-RB${d.info.deploymentId?.slice(4)}`;
    Object.assign(d.info, {
      status,
      errorInformation: { code: status === 'Stopped' ? 'MANUAL_STOP' : 'HOOK_EXECUTION_FAILURE', message },
      rollbackInfo: { rollbackDeploymentId: rollbackId },
    });
    aws.settleTo(OLD_TD);
    deployments.set(rollbackId, {
      info: {
        deploymentId: rollbackId,
        status: 'Succeeded',
        creator: 'codeDeployRollback',
        rollbackInfo: { rollbackTriggeringDeploymentId: d.info.deploymentId },
      },
      hooks: [],
    });
  };

  mock.on(CreateDeploymentCommand).callsFake((input) => {
    const id = `d-FAKE${String(++n).padStart(5, '0')}`;
    const spec = JSON.parse(input.revision?.appSpecContent?.content ?? '{}') as {
      Resources: Array<{ TargetService: { Properties: { TaskDefinition: string } } }>;
      Hooks?: Array<Record<string, string>>;
    };
    const taskDefinition = spec.Resources[0]?.TargetService.Properties.TaskDefinition ?? '';
    const d: FakeDeployment = {
      info: {
        deploymentId: id,
        applicationName: input.applicationName,
        deploymentGroupName: input.deploymentGroupName,
        deploymentConfigName: input.deploymentConfigName,
        status: 'InProgress',
        description: input.description,
        creator: 'user',
        createTime: new Date(),
      },
      hooks: [],
    };
    deployments.set(id, d);
    walks.push(
      (async () => {
        await sleep(20);
        if (options.failBeforeHooks) return end(d, 'Failed', 'The replacement task set never became healthy.');
        aws.settleTo(taskDefinition);
        for (const entry of spec.Hooks ?? []) {
          const [event] = Object.keys(entry);
          if (!event || d.info.status !== 'InProgress') return;
          if (event === options.stallAt) return;
          const hook = { event, id: `${id}-${event}`, status: 'InProgress' as 'InProgress' | 'Succeeded' | 'Failed' };
          d.hooks.push(hook);
          const status = new Promise<'Succeeded' | 'Failed'>((resolve) => waits.set(hook.id, resolve));
          await invoke[event]?.({ DeploymentId: id, LifecycleEventHookExecutionId: hook.id });
          hook.status = await status;
          waits.delete(hook.id);
          if (hook.status === 'Failed') {
            if (d.info.status === 'InProgress') end(d, 'Failed', `The ${event} hook failed.`);
            return;
          }
        }
        if (d.info.status !== 'InProgress') return;
        aws.settleTo(taskDefinition);
        Object.assign(d.info, { status: 'Succeeded', completeTime: new Date() });
      })(),
    );
    return { deploymentId: id };
  });
  mock.on(ListDeploymentsCommand).callsFake(() => ({ deployments: [...deployments.keys()].reverse() }));
  mock.on(BatchGetDeploymentsCommand).callsFake((input) => ({
    deploymentsInfo: (input.deploymentIds ?? []).flatMap((id: string) => {
      const d = deployments.get(id);
      return d ? [structuredClone(d.info)] : [];
    }),
  }));
  mock.on(PutLifecycleEventHookExecutionStatusCommand).callsFake((input) => {
    const settle = waits.get(input.lifecycleEventHookExecutionId ?? '');
    if (!settle) {
      throw new LifecycleEventAlreadyCompletedException({ message: 'already completed', $metadata: {} });
    }
    settle(input.status === 'Succeeded' ? 'Succeeded' : 'Failed');
    waits.delete(input.lifecycleEventHookExecutionId ?? '');
    return { lifecycleEventHookExecutionId: input.lifecycleEventHookExecutionId };
  });
  mock.on(StopDeploymentCommand).callsFake((input) => {
    const d = deployments.get(input.deploymentId ?? '');
    if (d?.info.status !== 'InProgress') {
      throw new DeploymentAlreadyCompletedException({ message: 'completed', $metadata: {} });
    }
    end(d, 'Stopped', 'Stopped by request.');
    for (const hook of d.hooks) waits.get(hook.id)?.('Failed');
    return { status: 'Pending' };
  });

  return {
    mock,
    /** Every deployment, as CodeDeploy reports it, oldest first. */
    deployments: () => [...deployments.values()],
    /** Resolves when every walk has ended. */
    settled: async () => {
      await Promise.all(walks);
    },
    restore: () => mock.restore(),
  };
}
