/**
 * rollgate's local CodeDeploy: an endpoint on 127.0.0.1 speaking the AWS JSON 1.1 protocol
 * (`X-Amz-Target: CodeDeploy_20141006.<Op>`), so `@aws-sdk/client-codedeploy` pointed at it (or
 * `AWS_ENDPOINT_URL_CODEDEPLOY`) works unchanged. Its deployments are ECS blue/green deployments of the config's
 * CODE_DEPLOY services, walked by the local ECS (engine.ts).
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { AwsError, type AwsJsonCall, type AwsJsonInput, callLog, startAwsJsonEndpoint } from '../aws-json.ts';
import type { CodeDeployController } from '../ecs/controller.ts';
import type { LocalCloudSpec } from '../types.ts';
import { CodeDeployEngine } from './engine.ts';
import { CODEDEPLOY_TARGET_PREFIX, type DeploymentRecord, deploymentView } from './model.ts';

export interface StartCodeDeployOptions {
  readonly spec: LocalCloudSpec;
  /** `codedeploy-state.json` lives here (`.rollgate/codedeploy`). */
  readonly stateDir: string;
  readonly ecs: CodeDeployController;
  readonly lambdaEndpoint: string;
  /** How long a "minute" of a deployment config's wait lasts here, in ms. */
  readonly minuteMs: number;
  readonly port?: number;
  readonly log?: (line: string) => void;
}

export interface LocalCodeDeploy {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_CODEDEPLOY`. */
  readonly endpoint: string;
  /** Every call received, oldest first (`CreateDeployment`, ...). */
  readonly calls: readonly AwsJsonCall[];
  /** Every deployment, newest first, as the engine keeps it (lifecycle events and the ECS walk included). */
  deployments(): readonly DeploymentRecord[];
  close(): Promise<void>;
}

const MAX_BATCH = 25;

const str = (input: AwsJsonInput, key: string): string | undefined =>
  typeof input[key] === 'string' ? (input[key] as string) : undefined;

/** A JSON 1.1 timestamp (epoch seconds) as epoch ms. */
const ms = (v: unknown): number | undefined => (typeof v === 'number' ? v * 1000 : undefined);

export async function startCodeDeploy(options: StartCodeDeployOptions): Promise<LocalCodeDeploy> {
  const log = options.log ?? (() => undefined);
  await mkdir(options.stateDir, { recursive: true });
  const engine = await CodeDeployEngine.open({ ...options, log });
  const { calls, onCall } = callLog();
  const operations = {
    CreateDeployment: (input: AwsJsonInput) => {
      const group = engine.group(input.applicationName, input.deploymentGroupName);
      const revision = input.revision as
        | { revisionType?: unknown; appSpecContent?: { content?: unknown; sha256?: unknown } }
        | undefined;
      if (revision === undefined) throw new AwsError('RevisionRequiredException', 'The revision ID was not specified.');
      const content = revision.appSpecContent?.content;
      if (revision.revisionType !== 'AppSpecContent' || typeof content !== 'string') {
        throw new AwsError(
          'InvalidRevisionException',
          'The local CodeDeploy takes an ECS revision as AppSpecContent (revisionType AppSpecContent, appSpecContent.content).',
        );
      }
      const sha = revision.appSpecContent?.sha256;
      if (sha !== undefined && sha !== createHashHex(content)) {
        throw new AwsError('InvalidRevisionException', 'The AppSpecContent sha256 does not match its content.');
      }
      const description = str(input, 'description');
      if (description !== undefined && description.length > 1000) {
        throw new AwsError('DescriptionTooLongException', 'The description is too long (at most 1000 characters).');
      }
      const d = engine.create({
        group,
        deploymentConfigName: str(input, 'deploymentConfigName') ?? 'CodeDeployDefault.ECSAllAtOnce',
        appSpecContent: content,
        ...(description === undefined ? {} : { description }),
      });
      return { deploymentId: d.deploymentId };
    },
    GetDeployment: (input: AwsJsonInput) => ({ deploymentInfo: deploymentView(engine.get(input.deploymentId)) }),
    BatchGetDeployments: (input: AwsJsonInput) => {
      const ids = input.deploymentIds;
      if (!Array.isArray(ids) || ids.length === 0) {
        throw new AwsError('DeploymentIdRequiredException', 'At least one deployment ID must be specified.');
      }
      if (ids.length > MAX_BATCH) {
        throw new AwsError('BatchLimitExceededException', `The maximum number of deployment IDs is ${MAX_BATCH}.`);
      }
      const found = ids.flatMap((id) => {
        try {
          return [deploymentView(engine.get(id))];
        } catch (error) {
          if ((error as Error).name === 'DeploymentDoesNotExistException') return [];
          throw error;
        }
      });
      return { deploymentsInfo: found };
    },
    ListDeployments: (input: AwsJsonInput) => {
      const app = str(input, 'applicationName');
      const groupName = str(input, 'deploymentGroupName');
      if (groupName !== undefined) engine.group(app, groupName);
      else if (app !== undefined)
        engine.group(app, engine.groups.find((g) => g.applicationName === app)?.deploymentGroupName);
      const statuses = Array.isArray(input.includeOnlyStatuses) ? (input.includeOnlyStatuses as unknown[]) : undefined;
      const range = (input.createTimeRange ?? {}) as { start?: unknown; end?: unknown };
      const [from, to] = [ms(range.start) ?? 0, ms(range.end) ?? Number.POSITIVE_INFINITY];
      const deployments = engine
        .list()
        .filter(
          (d) =>
            (app === undefined || d.applicationName === app) &&
            (groupName === undefined || d.deploymentGroupName === groupName) &&
            (statuses === undefined || statuses.includes(d.status)) &&
            d.createTime >= from &&
            d.createTime <= to,
        )
        .map((d) => d.deploymentId);
      return { deployments };
    },
    StopDeployment: (input: AwsJsonInput) => engine.stop(input.deploymentId, input.autoRollbackEnabled),
    PutLifecycleEventHookExecutionStatus: (input: AwsJsonInput) => ({
      lifecycleEventHookExecutionId: engine.putHookStatus(
        input.deploymentId,
        input.lifecycleEventHookExecutionId,
        input.status,
      ),
    }),
    GetDeploymentGroup: (input: AwsJsonInput) => {
      const g = engine.group(input.applicationName, input.deploymentGroupName);
      return {
        deploymentGroupInfo: {
          applicationName: g.applicationName,
          deploymentGroupName: g.deploymentGroupName,
          computePlatform: 'ECS',
          deploymentConfigName: 'CodeDeployDefault.ECSAllAtOnce',
          deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
          ecsServices: [{ clusterName: g.cluster, serviceName: g.service }],
          blueGreenDeploymentConfiguration: {
            terminateBlueInstancesOnDeploymentSuccess: {
              action: 'TERMINATE',
              terminationWaitTimeInMinutes: g.terminationWaitMinutes,
            },
          },
          autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST'] },
        },
      };
    },
  };
  let server: Awaited<ReturnType<typeof startAwsJsonEndpoint>>;
  try {
    server = await startAwsJsonEndpoint(
      {
        service: 'CodeDeploy',
        targetPrefix: CODEDEPLOY_TARGET_PREFIX,
        operations,
        onCall,
      },
      { port: options.port ?? 0, log },
    );
  } catch (error) {
    await engine.close();
    throw error;
  }
  log(`codedeploy: endpoint ${server.endpoint}`);
  let closing: Promise<void> | undefined;
  return {
    endpoint: server.endpoint,
    calls,
    deployments: () => engine.list(),
    close: () => {
      closing ??= (async () => {
        await server.close(true);
        await engine.close();
      })();
      return closing;
    },
  };
}

function createHashHex(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}
