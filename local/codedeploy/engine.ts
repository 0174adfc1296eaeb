/**
 * The local CodeDeploy's control plane: the deployment groups of the config's CODE_DEPLOY services, and their
 * deployments, each walked by the local ECS as its blue/green (local/ecs/controller.ts: the same StrategyRun over the
 * same ALB and tasks), with CodeDeploy's own hook protocol: each AppSpec hook is invoked once, asynchronously (Lambda
 * Invoke, InvocationType Event), with `{ DeploymentId, LifecycleEventHookExecutionId }`, and the deployment waits for
 * PutLifecycleEventHookExecutionStatus (an hour at most, scaled by minuteMs and never under a real minute). A Failed
 * hook or StopDeployment (autoRollbackEnabled) rolls the deployment back: the original deployment ends Failed or
 * Stopped and a rollback deployment (creator codeDeployRollback) follows the way back, as CodeDeploy reports it.
 * Persisted in `codedeploy-state.json`; a deployment found unfinished at start is Stopped, its rollback Succeeded (the
 * local ECS rolled its service deployment back at start).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { AwsError } from '../aws-json.ts';
import type { CodeDeployController } from '../ecs/controller.ts';
import type { ServiceDeploymentRecord } from '../ecs/model.ts';
import { StateStore } from '../ecs/store.ts';
import type { HookInvoker, StrategyRun } from '../ecs/strategy-run.ts';
import type { LocalCloudSpec } from '../types.ts';
import {
  type DeploymentGroupRecord,
  type DeploymentRecord,
  deploymentIdOf,
  eventAt,
  isDone,
  type LifecycleEventRecord,
  parseAppSpec,
  planOf,
} from './model.ts';

interface CodeDeployState {
  schema: 'rollgate.local-codedeploy.v1';
  counter: number;
  /** Oldest first, the last {@link MAX_DEPLOYMENTS}. */
  deployments: DeploymentRecord[];
}

const MAX_DEPLOYMENTS = 200;
/** CodeDeploy fails a hook that reports no status within an hour. */
const HOOK_TIMEOUT_MINUTES = 60;
/** ...never under a real minute here, so that a small minuteMs leaves a gate time to be judged. */
const MIN_HOOK_TIMEOUT_MS = 60_000;

export interface CodeDeployEngineOptions {
  readonly spec: LocalCloudSpec;
  /** `codedeploy-state.json` lives here. */
  readonly stateDir: string;
  readonly ecs: CodeDeployController;
  /** The Lambda endpoint the hooks are invoked through. */
  readonly lambdaEndpoint: string;
  readonly minuteMs: number;
  readonly log: (line: string) => void;
}

const fail = (name: string, message: string) => new AwsError(name, message);

export class CodeDeployEngine {
  readonly #options: CodeDeployEngineOptions;
  readonly #state: CodeDeployState;
  readonly #store: StateStore<CodeDeployState>;
  readonly groups: readonly DeploymentGroupRecord[];
  readonly #lambda: LambdaClient;
  /** Hooks waiting for their status, by hook execution id. */
  readonly #waits = new Map<string, (status: 'Succeeded' | 'Failed') => void>();
  /** The local ECS service deployment of each deployment in progress. */
  readonly #walks = new Map<string, ServiceDeploymentRecord>();
  /** Deployments StopDeployment was called on. */
  readonly #stopped = new Set<string>();
  /** Set by close(): what is in flight then records nothing (the next start resolves it). */
  #closed = false;
  /** The hook timeouts running (cleared on close). */
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor(options: CodeDeployEngineOptions, state: CodeDeployState, store: StateStore<CodeDeployState>) {
    this.#options = options;
    this.#state = state;
    this.#store = store;
    this.groups = options.spec.clusters.flatMap((c) =>
      c.services.flatMap((s) =>
        s.deploymentController === 'CODE_DEPLOY' && s.codeDeploy
          ? [
              {
                applicationName: s.codeDeploy.application,
                deploymentGroupName: s.codeDeploy.deploymentGroup,
                cluster: c.name,
                service: s.name,
                terminationWaitMinutes: s.codeDeploy.terminationWaitMinutes,
              },
            ]
          : [],
      ),
    );
    this.#lambda = new LambdaClient({
      endpoint: options.lambdaEndpoint,
      region: options.spec.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  }

  static async open(options: CodeDeployEngineOptions): Promise<CodeDeployEngine> {
    let engine: CodeDeployEngine | undefined;
    const store = new StateStore<CodeDeployState>(
      join(options.stateDir, 'codedeploy-state.json'),
      () => (engine as CodeDeployEngine).#state,
      (error) => options.log(`codedeploy: cannot write state: ${(error as Error).message}`),
      { schema: 'rollgate.local-codedeploy.v1', what: 'local CodeDeploy', valid: (p) => Array.isArray(p.deployments) },
    );
    const state = (await store.load()) ?? { schema: 'rollgate.local-codedeploy.v1', counter: 0, deployments: [] };
    engine = new CodeDeployEngine(options, state, store);
    engine.#restore();
    return engine;
  }

  #restore(): void {
    const now = Date.now();
    for (const d of this.#state.deployments.filter((x) => !isDone(x))) {
      if (d.creator === 'codeDeployRollback') {
        d.status = 'Succeeded';
      } else {
        this.#end(d, 'Stopped', 'MANUAL_STOP', 'The local CodeDeploy stopped during the deployment.');
        const rollback = this.#rollbackOf(d, now);
        rollback.status = 'Succeeded';
        rollback.completeTime = now;
      }
      d.completeTime ??= now;
    }
    this.#store.save();
  }

  group(applicationName: unknown, deploymentGroupName: unknown): DeploymentGroupRecord {
    if (typeof applicationName !== 'string' || applicationName === '') {
      throw fail(
        'ApplicationNameRequiredException',
        'The minimum number of required application names was not specified.',
      );
    }
    if (!this.groups.some((g) => g.applicationName === applicationName)) {
      throw fail(
        'ApplicationDoesNotExistException',
        `The application ${applicationName} does not exist with the user or AWS account.`,
      );
    }
    const group = this.groups.find(
      (g) => g.applicationName === applicationName && g.deploymentGroupName === deploymentGroupName,
    );
    if (group === undefined) {
      throw fail(
        'DeploymentGroupDoesNotExistException',
        `The deployment group ${String(deploymentGroupName)} does not exist in application ${applicationName}.`,
      );
    }
    return group;
  }

  get(deploymentId: unknown): DeploymentRecord {
    if (typeof deploymentId !== 'string' || deploymentId === '') {
      throw fail('DeploymentIdRequiredException', 'At least one deployment ID must be specified.');
    }
    if (!/^d-[A-Z0-9]{9}$/.test(deploymentId)) {
      throw fail('InvalidDeploymentIdException', `The deployment ID ${deploymentId} is not valid.`);
    }
    const d = this.#state.deployments.find((x) => x.deploymentId === deploymentId);
    if (d === undefined)
      throw fail('DeploymentDoesNotExistException', `The deployment ${deploymentId} could not be found.`);
    return d;
  }

  /** Every deployment, newest first. */
  list(): DeploymentRecord[] {
    return [...this.#state.deployments].reverse();
  }

  /** CreateDeployment of an ECS AppSpec: checked as CodeDeploy does, then walked by the local ECS. */
  create(input: {
    group: DeploymentGroupRecord;
    deploymentConfigName: string;
    appSpecContent: string;
    description?: string;
  }): DeploymentRecord {
    const { group } = input;
    const appSpec = parseAppSpec(input.appSpecContent);
    const plan = planOf({ ...input, ...group, appSpec, accountId: this.#options.spec.accountId });
    const active = (d: DeploymentRecord) =>
      !isDone(d) && d.applicationName === group.applicationName && d.deploymentGroupName === group.deploymentGroupName;
    if (this.#state.deployments.some(active)) {
      throw fail(
        'DeploymentLimitExceededException',
        `The deployment group ${group.deploymentGroupName} already has an active deployment.`,
      );
    }
    const svc = this.#options.ecs.service(group.cluster, group.service);
    if (svc.deploymentController !== 'CODE_DEPLOY' || svc.loadBalancer === undefined) {
      throw fail(
        'InvalidECSServiceException',
        `The ECS service ${group.service} must use the CODE_DEPLOY deployment controller and a load balancer.`,
      );
    }
    if (
      appSpec.containerName !== svc.loadBalancer.containerName ||
      appSpec.containerPort !== svc.loadBalancer.containerPort
    ) {
      throw fail(
        'InvalidRevisionException',
        `The AppSpec LoadBalancerInfo (${appSpec.containerName}:${appSpec.containerPort}) must be the service's load balancer container (${svc.loadBalancer.containerName}:${svc.loadBalancer.containerPort}).`,
      );
    }
    let taskDefinition: string;
    try {
      taskDefinition = this.#options.ecs.taskDefinition(appSpec.taskDefinition);
    } catch (error) {
      throw fail('InvalidRevisionException', `The AppSpec TaskDefinition cannot be used: ${(error as Error).message}`);
    }
    const now = Date.now();
    const d: DeploymentRecord = {
      deploymentId: deploymentIdOf(++this.#state.counter),
      applicationName: group.applicationName,
      deploymentGroupName: group.deploymentGroupName,
      deploymentConfigName: input.deploymentConfigName,
      status: 'InProgress',
      ...(input.description === undefined ? {} : { description: input.description }),
      creator: 'user',
      createTime: now,
      startTime: now,
      instanceTerminationWaitTimeStarted: false,
      cluster: group.cluster,
      service: group.service,
      appSpecContent: input.appSpecContent,
      lifecycleEvents: [],
    };
    this.#state.deployments = [...this.#state.deployments, d].slice(-MAX_DEPLOYMENTS);
    const walk = this.#options.ecs.start(svc, plan, taskDefinition, {
      invoke: this.#invoker(d),
      onChange: (_record, run) => this.#follow(d, run),
    });
    d.serviceDeploymentArn = walk.arn;
    this.#walks.set(d.deploymentId, walk);
    this.#options.log(`codedeploy: ${d.deploymentId} started: ${input.deploymentConfigName} to ${taskDefinition}`);
    this.#store.save();
    return d;
  }

  /** Each AppSpec hook once: invoked asynchronously, then its status awaited (PutLifecycleEventHookExecutionStatus). */
  #invoker(d: DeploymentRecord): HookInvoker {
    return async (hook, payload) => {
      const answer = (ok: boolean) => ({ payload: { hookStatus: ok ? 'SUCCEEDED' : 'FAILED' } });
      const event = eventAt(payload.lifecycleStage);
      if (event === undefined) return answer(true);
      const ran = d.lifecycleEvents.find((e) => e.event === event);
      if (ran !== undefined) return answer(ran.status === 'Succeeded');
      if (this.#stopped.has(d.deploymentId)) return answer(false);
      const record: LifecycleEventRecord = {
        event,
        hookExecutionId: randomUUID(),
        status: 'InProgress',
        startedAt: Date.now(),
      };
      d.lifecycleEvents.push(record);
      this.#store.save();
      const timeoutMs = Math.max(HOOK_TIMEOUT_MINUTES * this.#options.minuteMs, MIN_HOOK_TIMEOUT_MS);
      const status = await new Promise<'Succeeded' | 'Failed'>((resolve) => {
        const timer = setTimeout(() => settle('Failed'), timeoutMs);
        this.#timers.add(timer);
        const settle = (s: 'Succeeded' | 'Failed') => {
          clearTimeout(timer);
          this.#timers.delete(timer);
          this.#waits.delete(record.hookExecutionId);
          resolve(s);
        };
        this.#waits.set(record.hookExecutionId, settle);
        const body = { DeploymentId: d.deploymentId, LifecycleEventHookExecutionId: record.hookExecutionId };
        this.#lambda
          .send(
            new InvokeCommand({
              FunctionName: hook.hookTargetArn,
              InvocationType: 'Event',
              Payload: Buffer.from(JSON.stringify(body)),
            }),
          )
          .catch((error: Error) => {
            // closing destroys the client under an invocation in flight: that is no answer of the hook's
            if (this.#closed) return;
            this.#options.log(`codedeploy: ${d.deploymentId}: ${event} hook not invoked: ${error.message}`);
            settle('Failed');
          });
      });
      record.status = status;
      record.endedAt = Date.now();
      this.#options.log(`codedeploy: ${d.deploymentId}: ${event} ${status}`);
      this.#store.save();
      return answer(status === 'Succeeded');
    };
  }

  /** The walk moved: the deployment's status follows (a rollback ends it and starts the rollback deployment). */
  #follow(d: DeploymentRecord, run: StrategyRun): void {
    const now = Date.now();
    if (run.status === 'IN_PROGRESS') {
      d.instanceTerminationWaitTimeStarted = run.stage === 'BAKE_TIME' || run.stage === 'CLEAN_UP';
    } else if (run.status === 'SUCCESSFUL' && !isDone(d)) {
      d.status = 'Succeeded';
      d.completeTime = now;
      this.#walks.delete(d.deploymentId);
    } else if (run.status.startsWith('ROLLBACK')) {
      if (!isDone(d)) {
        const stopped = this.#stopped.has(d.deploymentId);
        const hook = d.lifecycleEvents.find((e) => e.status === 'Failed');
        this.#end(
          d,
          stopped ? 'Stopped' : 'Failed',
          stopped ? 'MANUAL_STOP' : hook ? 'HOOK_EXECUTION_FAILURE' : 'ECS_UPDATE_ERROR',
          stopped
            ? 'The deployment was stopped; rolling back.'
            : hook
              ? `The ${hook.event} lifecycle event hook ${hook.hookExecutionId} failed (Failed reported, or no status within the hook timeout).`
              : run.reason,
        );
      }
      const rollback = this.#rollbackOf(d, now);
      if (run.status === 'ROLLBACK_SUCCESSFUL' || run.status === 'ROLLBACK_FAILED') {
        rollback.status = run.status === 'ROLLBACK_SUCCESSFUL' ? 'Succeeded' : 'Failed';
        rollback.completeTime ??= now;
        if (run.status === 'ROLLBACK_FAILED')
          rollback.errorInformation = { code: 'ECS_UPDATE_ERROR', message: run.reason };
        this.#walks.delete(d.deploymentId);
      }
    }
    this.#store.save();
  }

  #end(d: DeploymentRecord, status: 'Failed' | 'Stopped', code: string, message: string): void {
    d.status = status;
    d.errorInformation = { code, message };
    d.completeTime = Date.now();
    for (const e of d.lifecycleEvents) this.#waits.get(e.hookExecutionId)?.('Failed');
  }

  /** The rollback deployment of `d` (created on first use, with CodeDeploy's rollbackInfo both ways). */
  #rollbackOf(d: DeploymentRecord, now: number): DeploymentRecord {
    const known = d.rollbackInfo?.rollbackDeploymentId;
    const existing = known === undefined ? undefined : this.#state.deployments.find((x) => x.deploymentId === known);
    if (existing !== undefined) return existing;
    const rollback: DeploymentRecord = {
      ...d,
      deploymentId: deploymentIdOf(++this.#state.counter),
      status: 'InProgress',
      description: `Rollback of ${d.deploymentId}`,
      creator: 'codeDeployRollback',
      createTime: now,
      startTime: now,
      rollbackInfo: { rollbackTriggeringDeploymentId: d.deploymentId },
      instanceTerminationWaitTimeStarted: false,
      lifecycleEvents: [],
    };
    delete rollback.errorInformation;
    delete rollback.completeTime;
    d.rollbackInfo = {
      rollbackDeploymentId: rollback.deploymentId,
      rollbackMessage: `Deployment ${d.deploymentId} is rolled back by ${rollback.deploymentId}.`,
    };
    this.#state.deployments = [...this.#state.deployments, rollback].slice(-MAX_DEPLOYMENTS);
    return rollback;
  }

  /** StopDeployment with autoRollbackEnabled: the hooks waiting fail, and the local ECS rolls the walk back. */
  stop(deploymentId: unknown, autoRollbackEnabled: unknown): { status: string; statusMessage: string } {
    const d = this.get(deploymentId);
    if (isDone(d)) {
      throw fail('DeploymentAlreadyCompletedException', `The deployment ${d.deploymentId} has already completed.`);
    }
    if (autoRollbackEnabled !== true) {
      throw fail(
        'UnsupportedActionForDeploymentTypeException',
        'The local CodeDeploy stops an ECS deployment with autoRollbackEnabled: true only (traffic back to the original task set).',
      );
    }
    this.#stopped.add(d.deploymentId);
    for (const e of d.lifecycleEvents) this.#waits.get(e.hookExecutionId)?.('Failed');
    const walk = this.#walks.get(d.deploymentId);
    if (walk !== undefined) this.#options.ecs.rollback(walk);
    return { status: 'Pending', statusMessage: `Stopping deployment ${d.deploymentId} and rolling it back.` };
  }

  /** PutLifecycleEventHookExecutionStatus: the waiting hook's status (Succeeded or Failed), once. */
  putHookStatus(deploymentId: unknown, hookExecutionId: unknown, status: unknown): string {
    const d = this.get(deploymentId);
    if (status !== 'Succeeded' && status !== 'Failed') {
      throw fail(
        'InvalidLifecycleEventHookExecutionStatusException',
        `The status ${String(status)} is not valid: only Succeeded and Failed can be reported.`,
      );
    }
    const record = d.lifecycleEvents.find((e) => e.hookExecutionId === hookExecutionId);
    if (record === undefined) {
      throw fail(
        'InvalidLifecycleEventHookExecutionIdException',
        `The lifecycle event hook execution ID ${String(hookExecutionId)} is not valid for deployment ${d.deploymentId}.`,
      );
    }
    const settle = this.#waits.get(record.hookExecutionId);
    if (record.status !== 'InProgress' || settle === undefined) {
      throw fail(
        'LifecycleEventAlreadyCompletedException',
        `The ${record.event} hook execution ${record.hookExecutionId} has already completed (${record.status}).`,
      );
    }
    settle(status);
    return record.hookExecutionId;
  }

  /**
   * Stops waiting: the hooks waiting stay unanswered (the local ECS abandons their walks too), the deployments stay
   * unfinished in the state file, and the next start stops them (see the module's comment).
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#lambda.destroy();
    await this.#store.flush();
  }
}
