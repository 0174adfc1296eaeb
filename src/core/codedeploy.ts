import { createHash } from 'node:crypto';
import {
  BatchGetDeploymentsCommand,
  type CodeDeployClient,
  CreateDeploymentCommand,
  type DeploymentInfo,
  type DeploymentStatus,
  ListDeploymentsCommand,
  PutLifecycleEventHookExecutionStatusCommand,
  StopDeploymentCommand,
} from '@aws-sdk/client-codedeploy';
import { type CodeDeployGateEvent, type CodeDeploySpec, orderedGates } from '../config/codedeploy.ts';
import { TargetNotFoundError } from './errors.ts';
import { codeDeployDescription, executionOfDescription } from './naming.ts';

/**
 * AWS CodeDeploy for services on the CODE_DEPLOY controller: the AppSpec of a deployment, CreateDeployment with it
 * as AppSpecContent, finding the deployment an execution created (ListDeployments + BatchGetDeployments by the
 * description rollgate gives it), reading one for CheckRollout, StopDeployment with autoRollbackEnabled, and a hook's
 * verdict through PutLifecycleEventHookExecutionStatus.
 */

/** The hook Lambdas Deploy names in the AppSpec, by lifecycle event (env CODEDEPLOY_HOOK_FUNCTION_ARNS). */
export type CodeDeployHooks = Readonly<Record<CodeDeployGateEvent, string>>;

/** The AppSpec of an ECS deployment (version 0.0), as the AppSpec reference for ECS lays it out. */
export interface EcsAppSpec {
  readonly version: '0.0';
  readonly Resources: ReadonlyArray<{
    readonly TargetService: {
      readonly Type: 'AWS::ECS::Service';
      readonly Properties: {
        readonly TaskDefinition: string;
        readonly LoadBalancerInfo: { readonly ContainerName: string; readonly ContainerPort: number };
      };
    };
  }>;
  /** One hook per entry, `{ <event>: <Lambda function name or ARN> }`, in the order CodeDeploy runs them. */
  readonly Hooks?: ReadonlyArray<Readonly<Partial<Record<CodeDeployGateEvent, string>>>>;
}

/**
 * The AppSpec for a deployment of `taskDefinitionArn`: the container and port the deployment group's load balancer
 * routes to (the service's `loadBalancers[0]`), and rollgate's hook at each gate, in the reference's run order.
 */
export function appSpecFor(params: {
  readonly taskDefinitionArn: string;
  readonly containerName: string;
  readonly containerPort: number;
  readonly gates: CodeDeploySpec['gates'];
  readonly hooks: CodeDeployHooks;
}): EcsAppSpec {
  const events = orderedGates({ gates: params.gates } as CodeDeploySpec);
  return {
    version: '0.0',
    Resources: [
      {
        TargetService: {
          Type: 'AWS::ECS::Service',
          Properties: {
            TaskDefinition: params.taskDefinitionArn,
            LoadBalancerInfo: { ContainerName: params.containerName, ContainerPort: params.containerPort },
          },
        },
      },
    ],
    ...(events.length > 0 ? { Hooks: events.map((e) => ({ [e]: params.hooks[e] })) } : {}),
  };
}

/** CreateDeployment's `revision`: the AppSpec as AppSpecContent (JSON, with its SHA-256). */
export function appSpecRevision(appSpec: EcsAppSpec) {
  const content = JSON.stringify(appSpec);
  return {
    revisionType: 'AppSpecContent' as const,
    appSpecContent: { content, sha256: createHash('sha256').update(content).digest('hex') },
  };
}

/** A deployment of one group, and where to find it. */
export interface DeploymentGroupRef {
  readonly codeDeploy: CodeDeployClient;
  readonly application: string;
  readonly deploymentGroup: string;
}

/** Statuses of a deployment that has not finished. */
const OPEN: DeploymentStatus[] = ['Created', 'Queued', 'InProgress', 'Baking', 'Ready'];
/** How far back a retry looks for its execution's deployment: the state machine's timeout (7200 s) and a margin. */
const LOOK_BACK_MS = 3 * 3600_000;

/**
 * The deployment this execution created (its description names the execution), newest first among the group's
 * deployments of the last hours; undefined when there is none (CreateDeployment never went through).
 */
export async function findExecutionDeployment(
  params: DeploymentGroupRef & {
    readonly executionName: string;
    /** `execution`: the deployment Deploy created; `rollback`: the one Rollback created (see codeDeployDescription). */
    readonly kind: 'execution' | 'rollback';
    readonly now?: () => Date;
  },
): Promise<DeploymentInfo | undefined> {
  const { codeDeploy, application, deploymentGroup } = params;
  const now = params.now?.() ?? new Date();
  const ids: string[] = [];
  let nextToken: string | undefined;
  do {
    const out = await codeDeploy.send(
      new ListDeploymentsCommand({
        applicationName: application,
        deploymentGroupName: deploymentGroup,
        createTimeRange: { start: new Date(now.getTime() - LOOK_BACK_MS) },
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    ids.push(...(out.deployments ?? []));
    nextToken = out.nextToken;
  } while (nextToken);
  const mine: DeploymentInfo[] = [];
  for (let i = 0; i < ids.length; i += 25) {
    const out = await codeDeploy.send(new BatchGetDeploymentsCommand({ deploymentIds: ids.slice(i, i + 25) }));
    for (const d of out.deploymentsInfo ?? []) {
      if (
        executionOfDescription(d.description, params.kind) === params.executionName &&
        d.creator !== 'codeDeployRollback'
      ) {
        mine.push(d);
      }
    }
  }
  return mine.sort((a, b) => (b.createTime?.getTime() ?? 0) - (a.createTime?.getTime() ?? 0))[0];
}

/** One deployment; TargetNotFoundError when CodeDeploy does not return it. */
export async function getDeployment(codeDeploy: CodeDeployClient, deploymentId: string): Promise<DeploymentInfo> {
  const out = await codeDeploy.send(new BatchGetDeploymentsCommand({ deploymentIds: [deploymentId] }));
  const found = out.deploymentsInfo?.find((d) => d.deploymentId === deploymentId);
  if (!found) throw new TargetNotFoundError(`CodeDeploy deployment ${deploymentId} not found`);
  return found;
}

/** Whether a deployment is still going (not Succeeded, Failed or Stopped). */
export const isOpen = (d: DeploymentInfo): boolean => d.status !== undefined && OPEN.includes(d.status);

/** CreateDeployment of the AppSpec, described with the execution (so a retry finds it); the deployment id. */
export async function createDeployment(
  params: DeploymentGroupRef & {
    readonly deploymentConfig: string;
    readonly appSpec: EcsAppSpec;
    readonly executionName: string;
    readonly image: string;
    readonly kind: 'execution' | 'rollback';
  },
): Promise<string> {
  const out = await params.codeDeploy.send(
    new CreateDeploymentCommand({
      applicationName: params.application,
      deploymentGroupName: params.deploymentGroup,
      deploymentConfigName: params.deploymentConfig,
      revision: appSpecRevision(params.appSpec),
      description: codeDeployDescription(params.kind, params.executionName, params.image),
    }),
  );
  if (!out.deploymentId) {
    throw new TargetNotFoundError(
      `CreateDeployment on ${params.application}/${params.deploymentGroup} returned no deployment id`,
    );
  }
  return out.deploymentId;
}

/** The answers that mean "already done": a second report, or a stop of a deployment that already ended. */
const ALREADY = new Set([
  'LifecycleEventAlreadyCompletedException',
  'DeploymentAlreadyCompletedException',
  'DeploymentIsNotInReadyStateException',
]);

/**
 * Reports a hook's verdict (PutLifecycleEventHookExecutionStatus). CodeDeploy calls a hook once and waits for this;
 * a second report of the same hook (a retry, the hook and JudgeGate both) answers LifecycleEventAlreadyCompleted, and
 * a report after the deployment ended DeploymentAlreadyCompleted: both are fine (false: nothing changed).
 */
export async function reportHook(
  codeDeploy: CodeDeployClient,
  hook: { readonly deploymentId: string; readonly lifecycleEventHookExecutionId: string },
  status: 'Succeeded' | 'Failed',
): Promise<boolean> {
  try {
    await codeDeploy.send(new PutLifecycleEventHookExecutionStatusCommand({ ...hook, status }));
    return true;
  } catch (err) {
    if (ALREADY.has((err as Error).name)) return false;
    throw err;
  }
}

/** StopDeployment with autoRollbackEnabled: CodeDeploy moves the traffic back to the original task set. */
export async function stopWithRollback(codeDeploy: CodeDeployClient, deploymentId: string): Promise<boolean> {
  try {
    await codeDeploy.send(new StopDeploymentCommand({ deploymentId, autoRollbackEnabled: true }));
    return true;
  } catch (err) {
    if (ALREADY.has((err as Error).name)) return false;
    throw err;
  }
}

/** What CheckRollout makes of a CodeDeploy deployment. */
export interface CodeDeployReading {
  readonly status: 'IN_PROGRESS' | 'BAKING' | 'COMPLETED' | 'FAILED';
  readonly reason?: string;
  /** Follow this deployment instead (the rollback CodeDeploy started for the one watched). */
  readonly follow?: string;
}

/** Why a deployment ended as it did, in one line. */
function why(d: DeploymentInfo): string {
  const info = d.errorInformation?.message ?? d.rollbackInfo?.rollbackMessage;
  return `CodeDeploy deployment ${d.deploymentId} is ${d.status}${info ? `: ${info}` : ''}`;
}

/**
 * A deployment's state for the watch. `expect` SUCCESSFUL: Succeeded is COMPLETED, Failed / Stopped FAILED, the
 * wait for the original task set's termination (all traffic moved, `instanceTerminationWaitTimeStarted`) BAKING when
 * `bake`. ROLLBACK_SUCCESSFUL (a deployment stopped or failed with its automatic rollback): the rollback deployment
 * CodeDeploy started is followed (`follow`), and its Succeeded is COMPLETED.
 */
export function readDeployment(
  d: DeploymentInfo,
  expect: 'SUCCESSFUL' | 'ROLLBACK_SUCCESSFUL',
  bake: boolean,
): CodeDeployReading {
  const rollbackOf = d.rollbackInfo?.rollbackTriggeringDeploymentId;
  if (expect === 'ROLLBACK_SUCCESSFUL' && rollbackOf === undefined) {
    const next = d.rollbackInfo?.rollbackDeploymentId;
    if (next) return { status: 'IN_PROGRESS', follow: next };
    if (d.status === 'Succeeded') {
      return { status: 'FAILED', reason: `${why(d)}: it ended before it could be stopped, with no rollback` };
    }
    // stopping, or stopped and its rollback not created yet
    return { status: 'IN_PROGRESS' };
  }
  if (d.status === 'Succeeded') return { status: 'COMPLETED', reason: why(d) };
  if (d.status === 'Failed' || d.status === 'Stopped') return { status: 'FAILED', reason: why(d) };
  if (bake && (d.status === 'Baking' || d.instanceTerminationWaitTimeStarted === true)) return { status: 'BAKING' };
  return { status: 'IN_PROGRESS' };
}
