import { createHash } from 'node:crypto';
import {
  BatchGetDeploymentsCommand,
  CodeDeployClient,
  CreateDeploymentCommand,
  type DeploymentInfo,
  LifecycleEventAlreadyCompletedException,
  ListDeploymentsCommand,
  PutLifecycleEventHookExecutionStatusCommand,
  StopDeploymentCommand,
} from '@aws-sdk/client-codedeploy';
import { DescribeServicesCommand, ECSClient, type Service, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseAppSpec } from '../../local/codedeploy/model.ts';
import { codeDeployIssues, describeCodeDeploy } from '../../src/config/codedeploy.ts';
import { configSchema } from '../../src/config/schema.ts';
import { checkRollout } from '../../src/core/check-rollout.ts';
import { appSpecFor, appSpecRevision, readDeployment } from '../../src/core/codedeploy.ts';
import { linkDeployment, onCodeDeployHook } from '../../src/core/codedeploy-hook.ts';
import { deploy, type RolloutWatch } from '../../src/core/deploy.ts';
import { BackupFailedError, TargetNotFoundError } from '../../src/core/errors.ts';
import { type Gate, judgeGate, parkGate } from '../../src/core/gates.ts';
import { checkController } from '../../src/core/inspect.ts';
import { rollback } from '../../src/core/rollback.ts';
import { MINIMAL_TARGET, testTarget } from '../helpers.ts';
import { deployment, NEW_TD, OLD_TD, service } from './aws-fixtures.ts';
import { memoryBucket } from './s3-fake.ts';

const cdMock = mockClient(CodeDeployClient);
const ecsMock = mockClient(ECSClient);
const s3Mock = mockClient(S3Client);
const sfnMock = mockClient(SFNClient);
const codeDeploy = new CodeDeployClient({ region: 'us-east-1' });
const ecs = new ECSClient({ region: 'us-east-1' });
const s3 = new S3Client({ region: 'us-east-1' });
const sfn = new SFNClient({ region: 'us-east-1' });
const bucket = 'artifacts';
const executionName = 'payments-v2-1';
const now = () => new Date('2026-12-02T06:00:00.000Z');
const HOOKS = {
  AfterAllowTestTraffic:
    'arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_rollgate-dev-AfterAllowTestTraffic',
  BeforeAllowTraffic: 'arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_rollgate-dev-BeforeAllowTraffic',
  AfterAllowTraffic: 'arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_rollgate-dev-AfterAllowTraffic',
};
const target = testTarget({
  target: {
    codeDeploy: {
      application: 'payments',
      deploymentGroup: 'payments-prod',
      deploymentConfig: 'CodeDeployDefault.ECSCanary10Percent5Minutes',
      gates: ['AfterAllowTestTraffic'],
    },
    testRoute: { url: 'http://127.0.0.1:9091' },
    rollout: { deadlineSeconds: 600 },
  },
});
const backup = { bucket, key: 'backups/demo/demo-app/x.json' };
/** The service on CODE_DEPLOY behind its load balancer's container web:8080. */
const svc = (deployments = [deployment()]): Service => ({
  ...service(deployments),
  deploymentController: { type: 'CODE_DEPLOY' },
  loadBalancers: [{ targetGroupArn: 'arn:tg/blue', containerName: 'web', containerPort: 8080 }],
});
const base = {
  ecs,
  s3,
  cluster: 'demo',
  service: 'demo-app',
  taskDefinitionArn: NEW_TD,
  backup,
  rollout: target.rollout,
  delivery: target,
  executionName,
  now,
  codeDeploy: { codeDeploy, sfn, bucket, image: 'payments:v2', hooks: () => HOOKS },
};

let objects: Map<string, string>;
/** The deployments CodeDeploy knows, by id. */
let deployments: Map<string, DeploymentInfo>;
beforeEach(() => {
  for (const m of [cdMock, ecsMock, s3Mock, sfnMock]) m.reset();
  objects = memoryBucket(s3Mock);
  deployments = new Map();
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  ecsMock.on(DescribeServicesCommand).resolves({ services: [svc()] });
  cdMock.on(ListDeploymentsCommand).callsFake(() => ({ deployments: [...deployments.keys()] }));
  cdMock.on(BatchGetDeploymentsCommand).callsFake((input: { deploymentIds: string[] }) => ({
    deploymentsInfo: input.deploymentIds.flatMap((id) => deployments.get(id) ?? []),
  }));
  cdMock.on(CreateDeploymentCommand).callsFake((input: { description?: string }) => {
    const id = `d-NEW${String(deployments.size).padStart(6, '0')}`;
    deployments.set(id, { deploymentId: id, status: 'InProgress', description: input.description, creator: 'user' });
    return { deploymentId: id };
  });
  cdMock.on(PutLifecycleEventHookExecutionStatusCommand).resolves({});
  cdMock.on(StopDeploymentCommand).resolves({ status: 'Pending' });
  objects.set(backup.key, '{}');
});

describe('appSpecFor', () => {
  it('builds the AppSpec reference fields for ECS: version, one TargetService, LoadBalancerInfo, hooks in run order', () => {
    const spec = appSpecFor({
      taskDefinitionArn: NEW_TD,
      containerName: 'web',
      containerPort: 8080,
      gates: ['AfterAllowTraffic', 'AfterAllowTestTraffic', 'BeforeAllowTraffic'],
      hooks: HOOKS,
    });
    expect(spec).toEqual({
      version: '0.0',
      Resources: [
        {
          TargetService: {
            Type: 'AWS::ECS::Service',
            Properties: { TaskDefinition: NEW_TD, LoadBalancerInfo: { ContainerName: 'web', ContainerPort: 8080 } },
          },
        },
      ],
      Hooks: [
        { AfterAllowTestTraffic: HOOKS.AfterAllowTestTraffic },
        { BeforeAllowTraffic: HOOKS.BeforeAllowTraffic },
        { AfterAllowTraffic: HOOKS.AfterAllowTraffic },
      ],
    });
  });

  it('names only the gate events asked for, and goes as AppSpecContent with its SHA-256 (read back as CodeDeploy does)', () => {
    const spec = appSpecFor({
      taskDefinitionArn: NEW_TD,
      containerName: 'web',
      containerPort: 8080,
      gates: ['AfterAllowTestTraffic'],
      hooks: HOOKS,
    });
    const revision = appSpecRevision(spec);
    expect(revision.revisionType).toBe('AppSpecContent');
    expect(revision.appSpecContent.sha256).toBe(
      createHash('sha256').update(revision.appSpecContent.content).digest('hex'),
    );
    expect(parseAppSpec(revision.appSpecContent.content)).toEqual({
      taskDefinition: NEW_TD,
      containerName: 'web',
      containerPort: 8080,
      hooks: [{ event: 'AfterAllowTestTraffic', functionName: HOOKS.AfterAllowTestTraffic }],
    });
  });
});

describe('deploy through CodeDeploy', () => {
  it('creates one deployment with the AppSpec of the new revision and links it to the execution', async () => {
    const watch = await deploy(base);
    const create = cdMock.commandCalls(CreateDeploymentCommand);
    expect(create).toHaveLength(1);
    const input = create[0]?.args[0].input;
    expect(input).toMatchObject({
      applicationName: 'payments',
      deploymentGroupName: 'payments-prod',
      deploymentConfigName: 'CodeDeployDefault.ECSCanary10Percent5Minutes',
      description: `rollgate execution ${executionName}: payments:v2`,
    });
    expect(JSON.parse(input?.revision?.appSpecContent?.content ?? '{}')).toMatchObject({
      Resources: [{ TargetService: { Properties: { TaskDefinition: NEW_TD } } }],
      Hooks: [{ AfterAllowTestTraffic: HOOKS.AfterAllowTestTraffic }],
    });
    expect(watch).toMatchObject({ codeDeployDeploymentId: 'd-NEW000000', expect: 'SUCCESSFUL', bake: true });
    expect(JSON.parse(objects.get('gates/codedeploy-deployments/d-NEW000000/execution.json') ?? '{}')).toMatchObject({
      executionName,
      gates: ['AfterAllowTestTraffic'],
    });
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toEqual([]);
  });

  it('on a retry after CreateDeployment went through follows that deployment: no second CreateDeployment', async () => {
    const first = await deploy(base);
    const again = await deploy(base);
    expect(cdMock.commandCalls(CreateDeploymentCommand)).toHaveLength(1);
    expect(again.codeDeployDeploymentId).toBe(first.codeDeployDeploymentId);
  });

  it("does not follow another execution's deployment of the same group", async () => {
    deployments.set('d-OTHER0001', {
      deploymentId: 'd-OTHER0001',
      status: 'Succeeded',
      description: 'rollgate execution payments-v1-0: payments:v1',
    });
    await deploy(base);
    expect(cdMock.commandCalls(CreateDeploymentCommand)).toHaveLength(1);
  });

  it('refuses to start without the backup (BackupFailedError), CodeDeploy untouched', async () => {
    objects.delete(backup.key);
    await expect(deploy(base)).rejects.toBeInstanceOf(BackupFailedError);
    expect(cdMock.commandCalls(CreateDeploymentCommand)).toEqual([]);
  });

  it('refuses a service without a load balancer container and port: the AppSpec needs them', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [{ ...svc(), loadBalancers: [] }] });
    await expect(deploy(base)).rejects.toThrow(/no load balancer container and port/);
    expect(cdMock.commandCalls(CreateDeploymentCommand)).toEqual([]);
  });
});

describe('the CodeDeploy hook', () => {
  const event = { DeploymentId: 'd-NEW000000', LifecycleEventHookExecutionId: 'hook-1' };
  const hook = () =>
    onCodeDeployHook({ s3, bucket, sfn, codeDeploy, event, lifecycleEvent: 'AfterAllowTestTraffic', now });
  const sent = () =>
    sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => JSON.parse(c.args[0].input.output ?? '{}') as Gate);
  const reports = () => cdMock.commandCalls(PutLifecycleEventHookExecutionStatusCommand).map((c) => c.args[0].input);
  const link = () =>
    linkDeployment({
      s3,
      bucket,
      sfn,
      codeDeploy,
      deploymentId: 'd-NEW000000',
      executionName,
      gates: ['AfterAllowTestTraffic'],
    });
  const store = { s3, bucket, executionName };

  it('first call: records the gate and wakes the parked execution with it; no status reported', async () => {
    await link();
    await parkGate({ ...store, sfn, taskToken: 'token-1', testRoute: { url: 'http://127.0.0.1:9091' } });
    expect(await hook()).toEqual({ status: 'ANNOUNCED', gate: 'AfterAllowTestTraffic-100', executionName });
    expect(sent()).toEqual([
      expect.objectContaining({
        id: 'AfterAllowTestTraffic-100',
        stage: 'test',
        percent: 100,
        productionPercent: 0,
        final: true,
        route: { origin: 'http://127.0.0.1:9091' },
        codeDeploy: { deploymentId: 'd-NEW000000', lifecycleEventHookExecutionId: 'hook-1' },
      }),
    ]);
    expect(reports()).toEqual([]);
  });

  it('repeated call (Lambda retried the asynchronous invocation) before the verdict: announced again, nothing reported', async () => {
    await link();
    await hook();
    const puts = () => putsOf('arrivals/AfterAllowTestTraffic-100.json').length;
    expect(puts()).toBe(1);
    expect(await hook()).toMatchObject({ status: 'ANNOUNCED' });
    expect(puts()).toBe(1);
    expect(reports()).toEqual([]);
  });

  it('call after the verdict: reports it (Succeeded), and a second report of it is fine', async () => {
    await link();
    const gate = sentGateAfter(await hook());
    await judgeGate({ ...store, gate, codeDeploy });
    expect(reports()).toEqual([
      { deploymentId: 'd-NEW000000', lifecycleEventHookExecutionId: 'hook-1', status: 'Succeeded' },
    ]);
    cdMock
      .on(PutLifecycleEventHookExecutionStatusCommand)
      .rejects(new LifecycleEventAlreadyCompletedException({ message: 'already completed', $metadata: {} }));
    expect(await hook()).toEqual({ status: 'REPORTED', verdict: 'Succeeded', reported: false });
    expect(reports()).toHaveLength(2);
  });

  it('call after the execution rolled back: reports Failed', async () => {
    await link();
    objects.set(`gates/${executionName}/closed.json`, JSON.stringify({ verdict: 'FAIL', at: now().toISOString() }));
    expect(await hook()).toEqual({ status: 'REPORTED', verdict: 'Failed', reported: true });
  });

  it('a hook before the link is left for Deploy, which announces it when it links the deployment', async () => {
    await parkGate({ ...store, sfn, taskToken: 'token-1' });
    expect(await hook()).toEqual({ status: 'UNLINKED' });
    expect(sent()).toEqual([]);
    expect(await link()).toEqual([{ status: 'ANNOUNCED', gate: 'AfterAllowTestTraffic-100', executionName }]);
    expect(sent().map((g) => g.id)).toEqual(['AfterAllowTestTraffic-100']);
  });

  /** The gate the execution would have received for the hook's arrival. */
  function sentGateAfter(outcome: unknown): Gate {
    expect(outcome).toMatchObject({ status: 'ANNOUNCED' });
    const arrival = JSON.parse(objects.get(`gates/${executionName}/arrivals/AfterAllowTestTraffic-100.json`) ?? '{}');
    return { ...arrival, final: true, route: {} } as Gate;
  }

  /** PutObject calls of keys ending so. */
  function putsOf(suffix: string) {
    return s3Mock.commandCalls(PutObjectCommand).filter((c) => c.args[0].input.Key?.endsWith(suffix));
  }
});

describe('checkRollout of a CodeDeploy deployment', () => {
  const watch = (overrides: Partial<RolloutWatch> = {}): RolloutWatch => ({
    cluster: 'demo',
    service: 'demo-app',
    taskDefinitionArn: NEW_TD,
    startedAt: now().toISOString(),
    deadline: new Date(now().getTime() + 600_000).toISOString(),
    waitSeconds: 1,
    attempt: 0,
    codeDeployDeploymentId: 'd-NEW000000',
    expect: 'SUCCESSFUL',
    bake: true,
    ...overrides,
  });
  const check = (w: RolloutWatch, at = now) =>
    checkRollout({ ecs, codeDeploy, watch: w, rollout: target.rollout, now: at });

  it.each([
    [{ status: 'InProgress' }, 'IN_PROGRESS'],
    [{ status: 'Created' }, 'IN_PROGRESS'],
    [{ status: 'InProgress', instanceTerminationWaitTimeStarted: true }, 'BAKING'],
    [{ status: 'Succeeded' }, 'COMPLETED'],
    [{ status: 'Failed', errorInformation: { code: 'HOOK_EXECUTION_FAILURE', message: 'hook failed' } }, 'FAILED'],
    [{ status: 'Stopped' }, 'FAILED'],
  ] as const)('reads %j as %s', async (info, status) => {
    deployments.set('d-NEW000000', { deploymentId: 'd-NEW000000', ...info });
    expect((await check(watch())).status).toBe(status);
  });

  it('says why a deployment failed', async () => {
    deployments.set('d-NEW000000', {
      deploymentId: 'd-NEW000000',
      status: 'Failed',
      errorInformation: { code: 'HOOK_EXECUTION_FAILURE', message: 'The AfterAllowTestTraffic hook failed' },
    });
    expect((await check(watch())).reason).toBe(
      'CodeDeploy deployment d-NEW000000 is Failed: The AfterAllowTestTraffic hook failed',
    );
  });

  it('a rollback watch follows the rollback deployment CodeDeploy started, to its Succeeded', async () => {
    deployments.set('d-NEW000000', {
      deploymentId: 'd-NEW000000',
      status: 'Stopped',
      rollbackInfo: { rollbackDeploymentId: 'd-RB0000001' },
    });
    deployments.set('d-RB0000001', {
      deploymentId: 'd-RB0000001',
      status: 'InProgress',
      rollbackInfo: { rollbackTriggeringDeploymentId: 'd-NEW000000' },
    });
    const first = await check(watch({ expect: 'ROLLBACK_SUCCESSFUL' }));
    expect(first).toMatchObject({ status: 'IN_PROGRESS', codeDeployDeploymentId: 'd-RB0000001' });
    deployments.set('d-RB0000001', { ...deployments.get('d-RB0000001'), status: 'Succeeded' });
    expect((await check(first)).status).toBe('COMPLETED');
  });

  it('counts the deadline again from the first check after the gates, and fails a deployment stuck past it', async () => {
    deployments.set('d-NEW000000', { deploymentId: 'd-NEW000000', status: 'InProgress' });
    const later = () => new Date(now().getTime() + 3_600_000);
    const afterGates = await check(watch({ attempt: 1, deadline: now().toISOString() }), later);
    expect(afterGates.status).toBe('IN_PROGRESS');
    const stuck = () => new Date(later().getTime() + 601_000);
    expect(await check(afterGates, stuck)).toMatchObject({
      status: 'FAILED',
      reason: expect.stringMatching(/did not finish by its deadline/),
    });
  });

  it('readDeployment: a deployment that succeeded before it could be stopped is no rollback', () => {
    expect(readDeployment({ deploymentId: 'd-X', status: 'Succeeded' }, 'ROLLBACK_SUCCESSFUL', false).status).toBe(
      'FAILED',
    );
  });
});

describe('rollback through CodeDeploy', () => {
  const params = {
    ecs,
    cluster: 'demo',
    service: 'demo-app',
    taskDefinitionArn: OLD_TD,
    rollout: target.rollout,
    now,
    delivery: target,
    gates: { s3, bucket, executionName },
    reason: 'SloViolated: p95 too high',
    codeDeploy: { codeDeploy, sfn, image: 'payments:v2' },
  };

  it('reports the open hook Failed, stops the deployment with autoRollbackEnabled and watches its rollback', async () => {
    await deploy(base);
    objects.set(
      `gates/${executionName}/arrivals/AfterAllowTestTraffic-100.json`,
      JSON.stringify({
        id: 'AfterAllowTestTraffic-100',
        codeDeploy: { deploymentId: 'd-NEW000000', lifecycleEventHookExecutionId: 'hook-1' },
      }),
    );
    const watch = await rollback(params);
    expect(cdMock.commandCalls(PutLifecycleEventHookExecutionStatusCommand).map((c) => c.args[0].input)).toEqual([
      { deploymentId: 'd-NEW000000', lifecycleEventHookExecutionId: 'hook-1', status: 'Failed' },
    ]);
    expect(cdMock.commandCalls(StopDeploymentCommand).map((c) => c.args[0].input)).toEqual([
      { deploymentId: 'd-NEW000000', autoRollbackEnabled: true },
    ]);
    expect(watch).toMatchObject({ codeDeployDeploymentId: 'd-NEW000000', expect: 'ROLLBACK_SUCCESSFUL' });
    expect(objects.has(`gates/${executionName}/closed.json`)).toBe(true);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toEqual([]);
  });

  it('when nothing was deployed (no deployment of this execution) watches the service as it runs: no CodeDeploy call', async () => {
    const watch = await rollback(params);
    expect(watch.codeDeployDeploymentId).toBeUndefined();
    expect(cdMock.commandCalls(CreateDeploymentCommand)).toEqual([]);
    expect(cdMock.commandCalls(StopDeploymentCommand)).toEqual([]);
  });

  it('after the deployment succeeded deploys the backup through CodeDeploy without hooks, once (a retry follows it)', async () => {
    await deploy(base);
    deployments.set('d-NEW000000', { ...deployments.get('d-NEW000000'), status: 'Succeeded' });
    ecsMock.on(DescribeServicesCommand).resolves({ services: [svc([deployment({ taskDefinition: NEW_TD })])] });
    const watch = await rollback(params);
    const creates = cdMock.commandCalls(CreateDeploymentCommand).map((c) => c.args[0].input);
    expect(creates).toHaveLength(2);
    expect(creates[1]).toMatchObject({
      deploymentConfigName: 'CodeDeployDefault.ECSAllAtOnce',
      description: `rollgate rollback ${executionName}: payments:v2`,
    });
    const appSpec = JSON.parse(creates[1]?.revision?.appSpecContent?.content ?? '{}');
    expect(appSpec.Hooks).toBeUndefined();
    expect(appSpec.Resources[0].TargetService.Properties.TaskDefinition).toBe(OLD_TD);
    expect(watch).toMatchObject({ codeDeployDeploymentId: 'd-NEW000001', expect: 'SUCCESSFUL' });
    await rollback(params);
    expect(cdMock.commandCalls(CreateDeploymentCommand)).toHaveLength(2);
  });
});

describe('checkController (Inspect)', () => {
  const where = 'demo/demo-app';
  const cd = { application: 'payments', deploymentGroup: 'payments-prod' };
  it('refuses a CODE_DEPLOY service for a target without codeDeploy, saying what to add', () => {
    expect(() => checkController(svc(), where, undefined)).toThrow(TargetNotFoundError);
    expect(() => checkController(svc(), where, undefined)).toThrow(
      /uses the CODE_DEPLOY deployment controller.*add codeDeploy: \{ application, deploymentGroup \}/,
    );
  });
  it('refuses codeDeploy for a service on the ECS controller, saying to remove it', () => {
    expect(() => checkController(service(), where, cd)).toThrow(
      /uses the ECS deployment controller, not CODE_DEPLOY: remove codeDeploy \(payments\/payments-prod\)/,
    );
  });
  it('refuses an EXTERNAL service, and lets the matching ones through', () => {
    expect(() =>
      checkController({ ...service(), deploymentController: { type: 'EXTERNAL' } }, where, undefined),
    ).toThrow(/EXTERNAL/);
    expect(() => checkController(svc(), where, cd)).not.toThrow();
    expect(() => checkController(service(), where, undefined)).not.toThrow();
  });
});

describe('codeDeployIssues (validate)', () => {
  it("counts a CodeDeploy target's gates in the time budget of the state machine's 2 hours", () => {
    const config = (gateTimeoutSeconds: number) =>
      configSchema.safeParse({
        version: 1,
        targets: [
          {
            ...MINIMAL_TARGET,
            codeDeploy: {
              application: 'a',
              deploymentGroup: 'g',
              gates: ['AfterAllowTestTraffic', 'BeforeAllowTraffic'],
            },
            testRoute: { url: 'http://127.0.0.1:9091' },
            lock: { maxWaitSeconds: 600 },
            gateTimeoutSeconds,
          },
        ],
      });
    expect(config(900).success).toBe(true);
    const tooLong = config(3000);
    expect(tooLong.success).toBe(false);
    expect(tooLong.error?.issues[0]?.message).toMatch(/\+ 2 gate\(s\) x \(gateTimeoutSeconds/);
  });

  const issues = (overrides: Record<string, unknown>, local?: Parameters<typeof codeDeployIssues>[1]) =>
    codeDeployIssues({ ...target, ...overrides } as never, local).map((i) => `${i.path.join('.')}: ${i.message}`);

  it('accepts the example target, and describes it for rollgate validate', () => {
    expect(issues({})).toEqual([]);
    expect(
      describeCodeDeploy({ ...target, codeDeploy: target.codeDeploy as NonNullable<typeof target.codeDeploy> }),
    ).toBe(
      'CodeDeploy payments/payments-prod: CodeDeployDefault.ECSCanary10Percent5Minutes (10% for 5 min, then 100%); gates AfterAllowTestTraffic; test route http://127.0.0.1:9091; gates wait 900 s',
    );
  });
  it('names what cannot work with codeDeploy', () => {
    expect(issues({ strategy: 'canary' })).toEqual([
      expect.stringMatching(/^strategy: no strategy \(or rolling\) with codeDeploy/),
    ]);
    expect(issues({ testRoute: undefined })).toEqual([
      expect.stringMatching(/^testRoute: a test route for the gate\(s\) AfterAllowTestTraffic/),
    ]);
    expect(issues({ rollout: { ...target.rollout, deadlineSeconds: 120 } })).toEqual([
      expect.stringMatching(/^rollout.deadlineSeconds: at least 360 s/),
    ]);
    expect(
      issues({
        codeDeploy: { ...target.codeDeploy, gates: ['AfterAllowTestTraffic', 'AfterAllowTraffic'] },
        gateTimeoutSeconds: 100,
      }),
    ).toEqual([expect.stringMatching(/^gateTimeoutSeconds: at least 360 s/)]);
  });
  it('checks the local service: its controller and its CodeDeploy group', () => {
    expect(issues({}, { deploymentController: 'ECS' })).toEqual([
      expect.stringMatching(/^codeDeploy: no codeDeploy for a service on the ECS/),
    ]);
    expect(
      issues(
        {},
        { deploymentController: 'CODE_DEPLOY', codeDeploy: { application: 'payments', deploymentGroup: 'other' } },
      ),
    ).toEqual([
      expect.stringMatching(
        /^codeDeploy: the local service's CodeDeploy application and deployment group \(payments\/other\)/,
      ),
    ]);
    expect(
      issues(
        { codeDeploy: undefined },
        { deploymentController: 'CODE_DEPLOY', codeDeploy: { application: 'a', deploymentGroup: 'b' } },
      ),
    ).toEqual([
      expect.stringMatching(
        /^codeDeploy: codeDeploy: \{ application, deploymentGroup \}: the local service uses the CODE_DEPLOY/,
      ),
    ]);
  });
});
