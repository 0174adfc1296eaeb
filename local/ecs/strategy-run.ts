/**
 * Walks one BLUE_GREEN / CANARY / LINEAR deployment over a service's local ALB: the plan of strategies.ts, stage by
 * stage, setting the listener rules' weights, invoking the lifecycle hooks (through the local Lambda endpoint) and
 * honouring their answers, baking on a scaled clock, and rolling back (weights to the live target group first, then
 * the rollback hooks, then the candidate's tasks drained) on a FAILED hook or a requested rollback
 * (StopServiceDeployment ROLLBACK). What starts and stops tasks is the caller's (`scaleUp`, `cleanUp`, `stopCandidate`).
 */
import { randomUUID } from 'node:crypto';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { LoadBalancer } from '../lb.ts';
import {
  type HookPayload,
  hookPayload,
  hooksAt,
  type LifecycleHook,
  type LifecycleStage,
  type PlanStep,
  planDeployment,
  planRollback,
  readHookAnswer,
  type StrategyConfig,
  weightsFor,
} from './strategies.ts';

/** Calls a hook Lambda: its answer's payload, and `functionError` when the handler threw. */
export type HookInvoker = (
  hook: LifecycleHook,
  payload: HookPayload,
) => Promise<{ payload: unknown; functionError?: string }>;

/** A hook invoker on the Lambda Invoke protocol (the local endpoint, or any given by `endpoint`). */
export function lambdaHookInvoker(endpoint: string, region: string): { invoke: HookInvoker; close(): void } {
  const client = new LambdaClient({
    endpoint,
    region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  return {
    invoke: async (hook, payload) => {
      const res = await client.send(
        new InvokeCommand({ FunctionName: hook.hookTargetArn, Payload: Buffer.from(JSON.stringify(payload)) }),
      );
      const text = Buffer.from(res.Payload ?? []).toString('utf8');
      return {
        payload: text === '' ? null : (JSON.parse(text) as unknown),
        ...(res.FunctionError === undefined ? {} : { functionError: res.FunctionError }),
      };
    },
    close: () => client.destroy(),
  };
}

/** `ServiceDeployment.status` values this run goes through. */
export type RunStatus =
  | 'IN_PROGRESS'
  | 'SUCCESSFUL'
  | 'ROLLBACK_IN_PROGRESS'
  | 'ROLLBACK_SUCCESSFUL'
  | 'ROLLBACK_FAILED';

export interface StrategyRunOptions {
  config: StrategyConfig;
  lb: LoadBalancer;
  /**
   * Rule ARNs ECS moves: `advancedConfiguration.productionListenerRule`, and the test rules (`testListenerRule`; the
   * local cloud moves a test listener's rule and a header rule on the production listener alike; none: no test route).
   */
  productionRule: string;
  testRules: readonly string[];
  /** Target group names: the one serving production now (blue) and the alternate the new tasks join (green). */
  live: string;
  candidate: string;
  serviceArn: string;
  /** The service deployment walked (the hook payload's `resourceArn`). */
  serviceDeploymentArn: string;
  blueRevisionArn: string;
  greenRevisionArn: string;
  invoke: HookInvoker;
  /** How long a "minute" of bake time lasts here, in ms (60000 on AWS; tests and the demo scale it down). */
  minuteMs: number;
  /** Starts the candidate's tasks in the candidate target group; resolves when they are healthy. */
  scaleUp(): Promise<void>;
  /** Drains and stops the live (old) tasks once the candidate has all production traffic and baked. */
  cleanUp(): Promise<void>;
  /** Drains and stops the candidate's tasks after a rollback. */
  stopCandidate(): Promise<void>;
  log?: (line: string) => void;
  /** Called after every change of stage, weights or status (to persist and report them). */
  onChange?: (run: StrategyRun) => void;
}

export class StrategyRun {
  status: RunStatus = 'IN_PROGRESS';
  stage: LifecycleStage = 'RECONCILE_SERVICE';
  testPercent = 0;
  productionPercent = 0;
  reason = '';
  /** Milliseconds from the decision to roll back to production fully on the live target group. */
  rollbackFlipMs?: number;
  /** Every hook invocation: stage, verdict. */
  readonly hookCalls: Array<{ stage: LifecycleStage; status: string; rollback: boolean }> = [];
  readonly done: Promise<RunStatus>;
  readonly #o: StrategyRunOptions;
  #rollbackRequested: string | undefined;
  #wake: (() => void) | undefined;

  constructor(options: StrategyRunOptions) {
    this.#o = options;
    this.done = this.#run();
  }

  /** Whether a rollback was asked for (StopServiceDeployment) and the run has not rolled back yet. */
  get rollbackRequested(): boolean {
    return this.#rollbackRequested !== undefined && this.status === 'IN_PROGRESS';
  }

  /** StopServiceDeployment with stopType ROLLBACK: the run stops waiting and rolls back. */
  requestRollback(reason: string): void {
    if (this.status !== 'IN_PROGRESS' || this.#rollbackRequested !== undefined) return;
    this.#rollbackRequested = reason;
    this.#wake?.();
  }

  async #run(): Promise<RunStatus> {
    try {
      for (const step of planDeployment(this.#o.config)) {
        const failed = await this.#step(step);
        if (failed !== undefined) return await this.#rollback(failed);
      }
      this.status = 'SUCCESSFUL';
      this.reason = 'Service deployment completed.';
      this.#o.onChange?.(this);
      return this.status;
    } catch (error) {
      return await this.#rollback(`the deployment failed: ${(error as Error).message}`);
    }
  }

  /** One step: its weights, its tasks, its hooks, its bake. The reason to roll back, if any. */
  async #step(step: PlanStep): Promise<string | undefined> {
    if (this.#rollbackRequested !== undefined) return this.#rollbackRequested;
    this.stage = step.stage;
    this.#setWeights(step);
    this.#o.onChange?.(this);
    this.#o.log?.(`strategy: ${step.stage} (test ${this.testPercent}%, production ${this.productionPercent}%)`);
    if (step.stage === 'SCALE_UP') await this.#o.scaleUp();
    if (step.stage === 'CLEAN_UP') await this.#o.cleanUp();
    for (const hook of hooksAt(this.#o.config, step.stage)) {
      const failed = await this.#runHook(hook, false);
      if (failed !== undefined) return failed;
    }
    if (step.bakeMinutes !== undefined) await this.#sleep(step.bakeMinutes * this.#o.minuteMs);
    return this.#rollbackRequested;
  }

  #setWeights(step: PlanStep): void {
    const { lb, live, candidate } = this.#o;
    const set = (rule: string, percent: number) => {
      const w = weightsFor(percent);
      lb.setWeights(rule, { [live]: w.blue, [candidate]: w.green });
    };
    if (step.testPercent !== undefined) {
      this.testPercent = step.testPercent;
      for (const rule of this.#o.testRules) set(rule, step.testPercent);
    }
    if (step.productionPercent !== undefined) {
      this.productionPercent = step.productionPercent;
      set(this.#o.productionRule, step.productionPercent);
    }
  }

  /** Invokes a hook until it answers SUCCEEDED or FAILED; the reason to roll back, if any. */
  async #runHook(hook: LifecycleHook, rollback: boolean): Promise<string | undefined> {
    let hookDetails = hook.hookDetails;
    // One execution of this hook at this stage: its re-invocations after IN_PROGRESS share the id.
    const executionId = randomUUID();
    for (;;) {
      const payload = hookPayload({
        serviceArn: this.#o.serviceArn,
        serviceDeploymentArn: this.#o.serviceDeploymentArn,
        executionId,
        lifecycleStage: this.stage,
        blueRevisionArn: this.#o.blueRevisionArn,
        greenRevisionArn: this.#o.greenRevisionArn,
        testPercent: this.testPercent,
        productionPercent: this.productionPercent,
        ...(hookDetails === undefined ? {} : { hookDetails }),
      });
      const verdict = readHookAnswer(
        await this.#o.invoke(hook, payload).catch((e: Error) => ({ payload: null, functionError: e.name })),
      );
      this.hookCalls.push({ stage: this.stage, status: verdict.status, rollback });
      // Hooks during a rollback are told, not asked: one call each, and their answer cannot stop the way back.
      if (verdict.status === 'SUCCEEDED' || rollback) return undefined;
      if (verdict.status === 'FAILED') return `${this.stage}: ${verdict.reason}`;
      if (verdict.hookDetails !== undefined) hookDetails = verdict.hookDetails;
      if (this.#rollbackRequested !== undefined) return this.#rollbackRequested;
      await this.#sleep((verdict.callBackDelaySeconds * this.#o.minuteMs) / 60);
      if (this.#rollbackRequested !== undefined) return this.#rollbackRequested;
    }
  }

  async #rollback(reason: string): Promise<RunStatus> {
    const started = performance.now();
    this.status = 'ROLLBACK_IN_PROGRESS';
    this.reason = reason;
    this.#o.onChange?.(this);
    this.#o.log?.(`strategy: rolling back: ${reason}`);
    try {
      for (const step of planRollback()) {
        this.stage = step.stage;
        this.#setWeights(step);
        if (step.productionPercent === 0) this.rollbackFlipMs = performance.now() - started;
        this.#o.onChange?.(this);
        for (const hook of hooksAt(this.#o.config, step.stage)) await this.#runHook(hook, true);
      }
      await this.#o.stopCandidate();
      this.status = 'ROLLBACK_SUCCESSFUL';
    } catch (error) {
      this.status = 'ROLLBACK_FAILED';
      this.reason = `${reason}; the rollback failed: ${(error as Error).message}`;
    }
    this.#o.onChange?.(this);
    return this.status;
  }

  /** Waits `ms`, or less when a rollback is requested. */
  async #sleep(ms: number): Promise<void> {
    if (this.#rollbackRequested !== undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = undefined;
  }
}
