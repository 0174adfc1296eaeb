import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { logicalId } from '../local/state-machine.ts';
import { checkTemplate } from '../scripts/check-template.ts';

/**
 * `npm run package` (osls + serverless-esbuild + serverless-step-functions) run once, offline, on a copy of the
 * service in a temp dir (serverless-esbuild always writes .esbuild/ and .serverless/ in the service dir, so packaging
 * in place could collide with a developer's own run), with a config of its own: two targets, two repositories,
 * task roles to pass. Then assertions over the CloudFormation template it wrote.
 */

const execFileAsync = promisify(execFile);
const require = createRequire(import.meta.url);
const ROOT = path.resolve(import.meta.dirname, '..');

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties: Json;
  DependsOn?: string[];
  Condition?: string;
}
interface Template {
  Resources: Record<string, Resource>;
  Outputs: Record<string, { Value: unknown }>;
}
interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: Json;
}
interface Derived {
  vpc: { subnetIds: string[]; securityGroupIds: string[] } | null;
  json: string;
  envBytes: number;
  warning?: string;
  repositories: string[];
  serviceArns: unknown[];
  passRoleArns: string[];
  repositoryArns: unknown[];
  passRoleStatement: Statement;
  missedPushImagesStatement: Statement;
  missedPushStartStatement: Statement;
}
interface ServerlessConfigModule {
  loadConfig(file?: string): Json;
  derive(config: Json): Derived;
  eventBus(env: Record<string, string | undefined>): { name: string; arn: unknown };
}
const resolver = require('../scripts/serverless-config.cjs') as ServerlessConfigModule;

const ROLES = {
  web: 'arn:aws:iam::123456789012:role/web-task',
  execution: 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole',
};

function target(name: string, repository: string, service: string, passRoles: string[]) {
  return {
    name,
    repository,
    cluster: 'prod',
    service,
    container: 'app',
    passRoles,
    health: { url: `https://${name}.example.com/health` },
  };
}

/** The private service's VPC: the web target names it (the api target is reached from it too). */
const VPC = {
  subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
  securityGroupIds: ['sg-0a1b2c3d4e5f60718'],
};

const FIXTURE_CONFIG = {
  version: 1,
  targets: [
    { ...target('web', 'demo-app', 'web', [ROLES.web, ROLES.execution]), vpc: VPC },
    // on the CODE_DEPLOY controller: deployed through CodeDeploy
    {
      ...target('api', 'team/api', 'api', [ROLES.execution]),
      codeDeploy: {
        application: 'api',
        deploymentGroup: 'api-prod',
        deploymentConfig: 'CodeDeployDefault.ECSLinear10PercentEvery1Minutes',
      },
      testRoute: { url: 'https://api-test.example.com:8443' },
    },
  ],
};

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const ofType = (t: Template, type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);

/** The resource with that logical id; fails the test when the template has none. */
function resource(t: Template, id: string): Resource {
  const r = t.Resources[id];
  if (!r) throw new Error(`template has no resource ${id}`);
  return r;
}

/** The template's only resource of that type. */
function only(t: Template, type: string): [string, Resource] {
  const found = ofType(t, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as [string, Resource];
}

/** Every statement of every IAM role (inline policies) and IAM policy in the template. */
function allStatements(t: Template): { where: string; statement: Statement }[] {
  const out: { where: string; statement: Statement }[] = [];
  for (const [id, r] of Object.entries(t.Resources)) {
    const docs: unknown[] = [];
    if (r.Type === 'AWS::IAM::Role') {
      for (const p of asArray(r.Properties.Policies as { PolicyDocument: unknown }[])) docs.push(p.PolicyDocument);
    }
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') docs.push(r.Properties.PolicyDocument);
    for (const doc of docs) {
      for (const statement of asArray((doc as { Statement: Statement | Statement[] }).Statement)) {
        out.push({ where: id, statement });
      }
    }
  }
  return out;
}

/** Drops the `QueryLanguage: "JSONPath"` serverless-step-functions adds to every state (the default anyway). */
function withoutDefaultQueryLanguage(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDefaultQueryLanguage);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k, v]) => !(k === 'QueryLanguage' && v === 'JSONPath'))
      .map(([k, v]) => [k, withoutDefaultQueryLanguage(v)]),
  );
}

/** The packaged definition with each `${placeholder}` Resource replaced by what Fn::Sub maps it to. */
function resolveSub(value: unknown, map: Json): unknown {
  if (typeof value === 'string') {
    const m = /^\$\{(\w+)\}$/.exec(value);
    return m?.[1] !== undefined && m[1] in map ? map[m[1]] : value;
  }
  if (Array.isArray(value)) return value.map((v) => resolveSub(v, map));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveSub(v, map)]));
}

function stateNames(states: Record<string, Json>): string[] {
  return Object.entries(states).flatMap(([name, s]) => {
    const nested = (s.ItemProcessor ?? s.Iterator) as { States: Record<string, Json> } | undefined;
    const branches = (s.Branches as { States: Record<string, Json> }[] | undefined) ?? [];
    return [name, ...(nested ? stateNames(nested.States) : []), ...branches.flatMap((b) => stateNames(b.States))];
  });
}

describe('npm run package (osls, offline)', () => {
  let dir: string;
  let template: Template;
  let stdout: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rollgate-package-'));
    // everything the bundles are built from: the handlers import src/ and loadgen/
    for (const entry of [
      'serverless.yml',
      'package.json',
      'tsconfig.json',
      'scripts',
      'statemachines',
      'src',
      'loadgen',
    ]) {
      cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
    }
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    writeFileSync(path.join(dir, 'rollgate.config.yml'), stringifyYaml(FIXTURE_CONFIG));
    // A bus of its own for Notify: the push rule must stay on the default bus, where ECR sends its events.
    const env: NodeJS.ProcessEnv = { ...process.env, ROLLGATE_EVENT_BUS: 'rollgate-ops' };
    delete env.ROLLGATE_CONFIG_FILE;
    ({ stdout } = await execFileAsync(process.execPath, ['scripts/package.js'], {
      cwd: dir,
      env,
      timeout: 180_000,
      maxBuffer: 10 * 1024 * 1024,
    }));
    const file = path.join(dir, '.serverless', 'cloudformation-template-update-stack.json');
    template = JSON.parse(readFileSync(file, 'utf8')) as Template;
  }, 200_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The statements of a function's role (its Properties.Role is `Fn::GetAtt [<role>, Arn]`). */
  function roleStatements(functionId: string): Statement[] {
    const role = (resource(template, functionId).Properties.Role as { 'Fn::GetAtt': [string, string] })[
      'Fn::GetAtt'
    ][0];
    return allStatements(template)
      .filter((s) => s.where === role)
      .map((s) => s.statement);
  }

  it('prints where the template is, and the bus rollback events go to', () => {
    expect(stdout).toContain('.serverless/cloudformation-template-update-stack.json');
    expect(stdout).toContain('rollback events on bus rollgate-ops');
  });

  /** The EventBridge rule whose pattern's source is `source`. */
  function ruleFor(source: string): Resource {
    const rules = ofType(template, 'AWS::Events::Rule').filter(([, r]) =>
      (r.Properties.EventPattern as { source?: string[] } | undefined)?.source?.includes(source),
    );
    if (rules.length !== 1) throw new Error(`expected one rule on ${source}, found ${rules.length}`);
    return (rules[0] as [string, Resource])[1];
  }

  describe('the ECR push rule', () => {
    it('matches successful pushes to the configured repositories on the default bus and starts the state machine', () => {
      const rule = ruleFor('aws.ecr');
      const props = rule.Properties as {
        EventBusName?: unknown;
        EventPattern: { source: string[]; 'detail-type': string[]; detail: Record<string, string[]> };
        Targets: { Arn: unknown; RoleArn: { 'Fn::GetAtt': [string, string] } }[];
      };
      expect(props.EventBusName).toBeUndefined();
      expect(props.EventPattern.source).toEqual(['aws.ecr']);
      expect(props.EventPattern['detail-type']).toEqual(['ECR Image Action']);
      expect(props.EventPattern.detail['action-type']).toEqual(['PUSH']);
      expect(props.EventPattern.detail.result).toEqual(['SUCCESS']);
      expect([...(props.EventPattern.detail['repository-name'] ?? [])].sort()).toEqual(['demo-app', 'team/api']);

      const [machineId] = only(template, 'AWS::StepFunctions::StateMachine');
      expect(props.Targets).toHaveLength(1);
      expect(props.Targets[0]?.Arn).toEqual({ Ref: machineId });
      const roleId = props.Targets[0]?.RoleArn['Fn::GetAtt'][0] ?? '';
      const statements = allStatements(template).filter((s) => s.where === roleId);
      expect(statements.map((s) => s.statement)).toEqual([
        { Effect: 'Allow', Action: ['states:StartExecution'], Resource: { Ref: machineId } },
      ]);
    });
  });

  describe('the execution status rule', () => {
    it('sends every ended execution of this state machine to executionEnded (lock release, a failed Record)', () => {
      const props = ruleFor('aws.states').Properties as {
        EventPattern: { 'detail-type': string[]; detail: { status: string[]; stateMachineArn: unknown[] } };
        Targets: { Arn: unknown }[];
      };
      const [machineId] = only(template, 'AWS::StepFunctions::StateMachine');
      expect(props.EventPattern['detail-type']).toEqual(['Step Functions Execution Status Change']);
      expect([...props.EventPattern.detail.status].sort()).toEqual(['ABORTED', 'FAILED', 'SUCCEEDED', 'TIMED_OUT']);
      expect(props.EventPattern.detail.stateMachineArn).toEqual([{ Ref: machineId }]);
      expect(props.Targets[0]?.Arn).toEqual({ 'Fn::GetAtt': ['ExecutionEndedLambdaFunction', 'Arn'] });
    });
  });

  describe('the missed-push check', () => {
    it('is scheduled but off while no target turns missedPushCheck on, and explicitly denied ECR and StartExecution', () => {
      const schedules = ofType(template, 'AWS::Events::Rule').filter(([, r]) => r.Properties.ScheduleExpression);
      expect(schedules.map(([, r]) => [r.Properties.ScheduleExpression, r.Properties.State])).toEqual([
        ['rate(15 minutes)', 'DISABLED'],
      ]);
      const denied = roleStatements('CheckMissedPushesLambdaFunction').filter((s) => s.Effect === 'Deny');
      expect(denied.map((s) => [asArray(s.Action), s.Resource])).toEqual([
        [['ecr:DescribeImages'], '*'],
        [['states:StartExecution'], '*'],
      ]);
    });
  });

  describe('the lock table', () => {
    it('is keyed (pk, sk), on demand, with TTL on expiresAt, and the Lambdas may only read and write items', () => {
      const [tableId, table] = only(template, 'AWS::DynamoDB::Table');
      expect(table.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      });
      const dynamo = allStatements(template).filter((s) =>
        asArray(s.statement.Action).some((a) => a.startsWith('dynamodb:')),
      );
      expect(dynamo.length).toBeGreaterThan(0);
      for (const { where, statement } of dynamo) {
        expect(statement.Resource, where).toEqual({ 'Fn::GetAtt': [tableId, 'Arn'] });
        expect(
          asArray(statement.Action).filter(
            (a) => !['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query'].includes(a),
          ),
          where,
        ).toEqual([]);
      }
    });
  });

  describe('the state machine', () => {
    const asl = JSON.parse(readFileSync(path.join(ROOT, 'statemachines/deploy.asl.json'), 'utf8')) as {
      States: Record<string, Json>;
    };

    it('is the STANDARD rollgate-deploy-<stage> machine', () => {
      const [, machine] = only(template, 'AWS::StepFunctions::StateMachine');
      expect(machine.Properties.StateMachineType).toBe('STANDARD');
      expect(machine.Properties.StateMachineName).toBe('rollgate-deploy-dev');
    });

    it('runs the ASL file, each Fn::GetAtt resolved to a Lambda function of this stack', () => {
      const [, machine] = only(template, 'AWS::StepFunctions::StateMachine');
      const sub = (machine.Properties.DefinitionString as { 'Fn::Sub': [string, Json] })['Fn::Sub'];
      const [body, map] = sub;
      const packaged = resolveSub(JSON.parse(body), map) as { States: Record<string, Json> };

      expect(stateNames(packaged.States).sort()).toEqual(stateNames(asl.States).sort());
      expect(withoutDefaultQueryLanguage(packaged)).toEqual(asl);
      const functionIds = Object.values(map).map((v) => (v as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]);
      expect(functionIds.length).toBeGreaterThan(0);
      for (const id of functionIds) expect(template.Resources[id]?.Type, id).toBe('AWS::Lambda::Function');
    });

    it('logs every event with execution data to its own log group', () => {
      const [, machine] = only(template, 'AWS::StepFunctions::StateMachine');
      const logging = machine.Properties.LoggingConfiguration as {
        Level: string;
        IncludeExecutionData: boolean;
        Destinations: { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [string, string] } } }[];
      };
      expect(logging.Level).toBe('ALL');
      expect(logging.IncludeExecutionData).toBe(true);
      const groupId = logging.Destinations[0]?.CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0] ?? '';
      expect(template.Resources[groupId]?.Type).toBe('AWS::Logs::LogGroup');
      expect(template.Resources[groupId]?.Properties.RetentionInDays).toBeGreaterThan(0);
    });
  });

  describe('the Lambdas', () => {
    const serverless = parseYaml(readFileSync(path.join(ROOT, 'serverless.yml'), 'utf8')) as {
      functions: Record<string, { handler: string }>;
    };

    it('are the functions of serverless.yml, on nodejs22.x arm64', () => {
      const lambdas = ofType(template, 'AWS::Lambda::Function');
      expect(lambdas.map(([id]) => id).sort()).toEqual(Object.keys(serverless.functions).map(logicalId).sort());
      for (const [id, fn] of lambdas) {
        expect(fn.Properties.Runtime, id).toBe('nodejs22.x');
        expect(fn.Properties.Architectures, id).toEqual(['arm64']);
      }
    });

    it('give ProbeHealth a timeout above the longest health deadline (840 s) and within Lambda 900 s', () => {
      const timeout = template.Resources.ProbeHealthLambdaFunction?.Properties.Timeout as number;
      expect(timeout).toBeGreaterThan(840);
      expect(timeout).toBeLessThanOrEqual(900);
    });

    it('pass Normalize the validated config without its local section, and every function the bucket', () => {
      const vars = (fn: string) =>
        (resource(template, fn).Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      const config = JSON.parse(vars('NormalizeLambdaFunction').ROLLGATE_CONFIG as string) as Json;
      expect(config).not.toHaveProperty('local');
      expect((config.targets as { name: string }[]).map((t) => t.name)).toEqual(['web', 'api']);
      for (const [id] of ofType(template, 'AWS::Lambda::Function')) {
        expect(vars(id).ARTIFACTS_BUCKET, id).toEqual({ Ref: 'ArtifactsBucket' });
      }
    });
  });

  describe('the VPC a target names', () => {
    it('holds the functions that send requests to target URLs, ProbeHealth and GenerateLoad, and no other', () => {
      const inVpc = ofType(template, 'AWS::Lambda::Function').filter(([, fn]) => fn.Properties.VpcConfig);
      expect(inVpc.map(([id]) => id).sort()).toEqual(['GenerateLoadLambdaFunction', 'ProbeHealthLambdaFunction']);
      for (const [id, fn] of inVpc) {
        expect(fn.Properties.VpcConfig, id).toEqual({
          SubnetIds: VPC.subnetIds,
          SecurityGroupIds: VPC.securityGroupIds,
        });
      }
    });

    it('gives their roles, and no other, the network interface permissions Lambda needs to attach them', () => {
      const vpcAccess = ofType(template, 'AWS::Lambda::Function')
        .filter(([, fn]) => {
          const role = resource(template, (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]);
          return JSON.stringify(role.Properties.ManagedPolicyArns ?? []).includes(
            ':iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
          );
        })
        .map(([id]) => id);
      expect(vpcAccess.sort()).toEqual(['GenerateLoadLambdaFunction', 'ProbeHealthLambdaFunction']);
    });
  });

  describe('the rollback events', () => {
    it('go to the bus ROLLGATE_EVENT_BUS names: Notify is told its name and may put events on it alone', () => {
      const vars = (resource(template, 'NotifyLambdaFunction').Properties.Environment as { Variables: Json }).Variables;
      expect(vars.EVENT_BUS_NAME).toBe('rollgate-ops');
      const put = allStatements(template).filter(
        ({ statement }) => statement.Effect === 'Allow' && asArray(statement.Action).includes('events:PutEvents'),
      );
      expect(put).toHaveLength(1);
      expect(JSON.stringify(put[0]?.statement.Resource)).toContain(':event-bus/rollgate-ops"');
      expect(JSON.stringify(put[0]?.statement.Resource)).toContain('"Ref":"AWS::AccountId"');
    });
  });

  describe('the artifacts bucket', () => {
    const bucket = () => template.Resources.ArtifactsBucket as Resource;

    it('is encrypted, versioned, private, and expires noncurrent versions', () => {
      const p = bucket().Properties as {
        BucketEncryption: { ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault: Json }[] };
        VersioningConfiguration: Json;
        PublicAccessBlockConfiguration: Json;
        LifecycleConfiguration: { Rules: Json[] };
      };
      expect(bucket().Type).toBe('AWS::S3::Bucket');
      const sse = p.BucketEncryption.ServerSideEncryptionConfiguration[0]?.ServerSideEncryptionByDefault;
      expect(['AES256', 'aws:kms']).toContain(sse?.SSEAlgorithm);
      expect(p.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(p.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(p.LifecycleConfiguration.Rules.some((r) => r.Status === 'Enabled' && r.NoncurrentVersionExpiration)).toBe(
        true,
      );
    });

    it("expires the load generators' raw results after a week, and nothing else by age", () => {
      const rules = (bucket().Properties as { LifecycleConfiguration: { Rules: Json[] } }).LifecycleConfiguration.Rules;
      const byAge = rules.filter((r) => r.ExpirationInDays !== undefined);
      expect(byAge).toEqual([
        { Id: 'expire-load-results', Status: 'Enabled', Prefix: 'load-results/', ExpirationInDays: 7 },
      ]);
    });

    it('denies any request not made over TLS', () => {
      const policies = ofType(template, 'AWS::S3::BucketPolicy').filter(
        ([, r]) => JSON.stringify(r.Properties.Bucket) === JSON.stringify({ Ref: 'ArtifactsBucket' }),
      );
      expect(policies).toHaveLength(1);
      const doc = policies[0]?.[1].Properties.PolicyDocument as { Statement: Statement[] };
      const deny = doc.Statement.find((s) => s.Effect === 'Deny');
      expect(deny).toMatchObject({
        Principal: '*',
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
      expect(JSON.stringify(deny?.Resource)).toContain('/*');
    });
  });

  describe('IAM', () => {
    const grants = (s: Statement, action: string) => {
      const [service] = action.split(':');
      return asArray(s.Action).some((a) => a === action || a === '*' || a === `${service}:*`);
    };
    const onStar = (s: Statement) => asArray(s.Resource).some((r) => r === '*');
    /** The functions whose role allows `action`. */
    const allowedTo = (action: string) =>
      ofType(template, 'AWS::Lambda::Function')
        .filter(([id]) => roleStatements(id).some((s) => s.Effect === 'Allow' && grants(s, action)))
        .map(([id]) => id.replace(/LambdaFunction$/, ''))
        .sort();

    it('passes the IAM data and CloudFormation specification check (actions, ARNs, condition keys, properties)', async () => {
      expect(await checkTemplate(template as never)).toEqual([]);
    });

    it('gives every function a role of its own, and leaves the framework default role to none', () => {
      const lambdas = ofType(template, 'AWS::Lambda::Function');
      const roles = lambdas.map(
        ([, fn]) => (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
      );
      expect(new Set(roles).size).toBe(lambdas.length);
      expect(roles).not.toContain('IamRoleLambdaExecution');
      for (const role of roles) expect(template.Resources[role]?.Type, role).toBe('AWS::IAM::Role');
    });

    /** The gate bridge's S3 objects and the task token calls (GateHook and ParkGate). */
    const GATE_BRIDGE = [
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
      'states:SendTaskFailure',
      'states:SendTaskHeartbeat',
      'states:SendTaskSuccess',
    ];
    /** A CodeDeploy hook: the gate bridge, and reporting a hook's status (nothing else of CodeDeploy). */
    const CODEDEPLOY_HOOK = [
      ...GATE_BRIDGE.slice(0, 3),
      'codedeploy:PutLifecycleEventHookExecutionStatus',
      ...GATE_BRIDGE.slice(3),
    ].sort();
    /** Finding, following and creating a CodeDeploy deployment (Deploy, Rollback). */
    const CODEDEPLOY_CREATE = [
      'codedeploy:BatchGetDeployments',
      'codedeploy:CreateDeployment',
      'codedeploy:GetApplicationRevision',
      'codedeploy:GetDeploymentConfig',
      'codedeploy:ListDeployments',
      'codedeploy:RegisterApplicationRevision',
    ];
    /** Each function's allowed actions beyond writing its own logs: exactly what its handler calls. */
    const EXPECTED: Record<string, string[]> = {
      Normalize: [],
      CheckImage: ['ecr:DescribeImages'],
      AcquireLock: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
      Inspect: ['ecs:DescribeServices', 'ecs:DescribeTaskDefinition', 's3:GetObject', 's3:ListBucket'],
      Backup: ['ecs:DescribeServices', 'ecs:DescribeTaskDefinition', 's3:GetObject', 's3:ListBucket', 's3:PutObject'],
      Register: [
        'ecs:DescribeTaskDefinition',
        'ecs:RegisterTaskDefinition',
        'ecs:TagResource',
        'iam:PassRole',
        's3:GetObject',
        's3:ListBucket',
      ],
      Deploy: [
        ...CODEDEPLOY_CREATE,
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'ecs:DescribeServices',
        'ecs:ListServiceDeployments',
        'ecs:UpdateService',
        'iam:PassRole',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
        'states:SendTaskFailure',
        'states:SendTaskHeartbeat',
        'states:SendTaskSuccess',
      ],
      CheckRollout: ['codedeploy:BatchGetDeployments', 'ecs:DescribeServiceDeployments', 'ecs:DescribeServices'],
      ProbeHealth: [],
      PlanLoad: [],
      GenerateLoad: ['s3:PutObject'],
      // s3:ListBucket for the judge, on the reports/ and audit/ prefixes only (scoped below)
      AggregateLoad: ['s3:GetObject', 's3:ListBucket', 's3:PutObject'],
      MergeLoad: ['s3:GetObject', 's3:PutObject'],
      Rollback: [
        ...CODEDEPLOY_CREATE.slice(0, 5),
        'codedeploy:PutLifecycleEventHookExecutionStatus',
        'codedeploy:RegisterApplicationRevision',
        'codedeploy:StopDeployment',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'ecs:DescribeServices',
        'ecs:ListServiceDeployments',
        'ecs:StopServiceDeployment',
        'ecs:UpdateService',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
      ],
      GateHook: GATE_BRIDGE,
      ParkGate: GATE_BRIDGE,
      CodeDeployAfterAllowTestTraffic: CODEDEPLOY_HOOK,
      CodeDeployBeforeAllowTraffic: CODEDEPLOY_HOOK,
      CodeDeployAfterAllowTraffic: CODEDEPLOY_HOOK,
      JudgeGate: ['codedeploy:PutLifecycleEventHookExecutionStatus', 's3:PutObject'],
      Record: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 's3:PutObject'],
      Notify: ['events:PutEvents'],
      ExecutionEnded: [
        'codedeploy:BatchGetDeployments',
        'codedeploy:PutLifecycleEventHookExecutionStatus',
        'codedeploy:StopDeployment',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'ecs:DescribeServices',
        'ecs:DescribeTaskDefinition',
        'ecs:ListServiceDeployments',
        'ecs:StopServiceDeployment',
        'ecs:UpdateService',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
      ],
      CheckMissedPushes: ['dynamodb:GetItem'],
    };

    it('covers every function of the template', () => {
      const ids = ofType(template, 'AWS::Lambda::Function').map(([id]) => id.replace(/LambdaFunction$/, ''));
      expect(ids.sort()).toEqual(Object.keys(EXPECTED).sort());
    });

    it.each(Object.entries(EXPECTED))('lets %s call %j and write its own logs, nothing else', (fn, expected) => {
      const allowed = roleStatements(`${fn}LambdaFunction`).filter((s) => s.Effect === 'Allow');
      const actions = [...new Set(allowed.flatMap((s) => asArray(s.Action)))];
      expect(actions.filter((a) => !a.startsWith('logs:')).sort()).toEqual(expected);
      // the logs grant is its own log group's, nothing wider
      const logs = allowed.filter((s) => asArray(s.Action).some((a) => a.startsWith('logs:')));
      expect(logs).toHaveLength(1);
      const name = resource(template, `${fn}LambdaFunction`).Properties.FunctionName as string;
      expect(name).toMatch(/^(rollgate-dev-|CodeDeployHook_rollgate-dev-)/);
      expect(JSON.stringify(logs[0]?.Resource)).toContain(`:log-group:/aws/lambda/${name}:`);
    });

    it('lets only the deploy and rollback paths update a service, and only Register pass a role', () => {
      expect(allowedTo('ecs:UpdateService')).toEqual(['Deploy', 'ExecutionEnded', 'Rollback']);
      expect(allowedTo('iam:PassRole')).toEqual(['Deploy', 'Register']);
      expect(allowedTo('ecs:RegisterTaskDefinition')).toEqual(['Register']);
    });

    it('keeps the load generator and the prober off ECS, IAM and the lock table (the generator writes its result only)', () => {
      for (const fn of ['GenerateLoad', 'ProbeHealth', 'Normalize', 'PlanLoad']) {
        const actions = roleStatements(`${fn}LambdaFunction`).flatMap((s) => asArray(s.Action));
        expect(
          actions.filter((a) => /^(ecs|iam|dynamodb|s3|ecr|states|events):/.test(a)),
          fn,
        ).toEqual(fn === 'GenerateLoad' ? ['s3:PutObject'] : []);
      }
    });

    it.each(['ecs:UpdateService', 'ecs:DescribeServices', 'iam:PassRole', 's3:GetObject', 's3:PutObject'])(
      'grants %s on no "*" resource anywhere',
      (action) => {
        const wide = allStatements(template).filter(
          ({ statement }) => statement.Effect === 'Allow' && grants(statement, action) && onStar(statement),
        );
        expect(wide).toEqual([]);
      },
    );

    it('grants ecs:UpdateService on exactly the configured services', () => {
      const update = allStatements(template).filter(
        ({ statement }) => statement.Effect === 'Allow' && grants(statement, 'ecs:UpdateService'),
      );
      expect(update).toHaveLength(3);
      for (const { statement } of update) {
        const arns = asArray(statement.Resource).map((r) => JSON.stringify(r));
        expect(arns).toHaveLength(2);
        expect(arns[0]).toContain(':service/prod/web');
        expect(arns[1]).toContain(':service/prod/api');
        for (const arn of arns) expect(arn).toContain('"Ref":"AWS::AccountId"');
      }
    });

    it('grants iam:PassRole on the configured roles only, to ECS tasks only', () => {
      const pass = roleStatements('RegisterLambdaFunction').filter(
        (statement) => statement.Effect === 'Allow' && grants(statement, 'iam:PassRole'),
      );
      expect(pass).toHaveLength(1);
      expect(asArray(pass[0]?.Resource).sort()).toEqual([ROLES.execution, ROLES.web].sort());
      expect(pass[0]?.Condition).toEqual({
        StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
      });
    });

    it("lets Deploy pass the ECS hook role alone, to ECS, and names it and GateHook in Deploy's environment", () => {
      const pass = roleStatements('DeployLambdaFunction').filter(
        (s) => s.Effect === 'Allow' && grants(s, 'iam:PassRole'),
      );
      expect(pass.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': ['EcsHookInvokeRole', 'Arn'] }]);
      expect(pass[0]?.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs.amazonaws.com' } });
      const env = (resource(template, 'DeployLambdaFunction').Properties.Environment as { Variables: Json }).Variables;
      expect(env.GATE_HOOK_FUNCTION_ARN).toEqual({ 'Fn::GetAtt': ['GateHookLambdaFunction', 'Arn'] });
      expect(env.ECS_HOOK_ROLE_ARN).toEqual({ 'Fn::GetAtt': ['EcsHookInvokeRole', 'Arn'] });
    });

    it('gives ECS a role that may invoke GateHook and nothing else', () => {
      const role = resource(template, 'EcsHookInvokeRole');
      expect(role.Type).toBe('AWS::IAM::Role');
      expect(role.Properties.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      });
      const statements = allStatements(template)
        .filter((s) => s.where === 'EcsHookInvokeRole')
        .map((s) => s.statement);
      expect(statements).toEqual([
        {
          Sid: 'InvokeGateHook',
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          Resource: { 'Fn::GetAtt': ['GateHookLambdaFunction', 'Arn'] },
        },
      ]);
    });

    it('scopes the service deployment actions to the configured services', () => {
      const scoped = (action: string) =>
        allStatements(template)
          .filter(({ statement }) => statement.Effect === 'Allow' && grants(statement, action))
          .map(({ statement }) =>
            asArray(statement.Resource).map((r) => /:(service[\w-]*\/[^"]+)"/.exec(JSON.stringify(r))?.[1]),
          );
      for (const arns of scoped('ecs:ListServiceDeployments'))
        expect(arns).toEqual(['service/prod/web', 'service/prod/api']);
      for (const action of ['ecs:DescribeServiceDeployments', 'ecs:StopServiceDeployment']) {
        for (const arns of scoped(action)) {
          expect(arns).toEqual(['service-deployment/prod/web/*', 'service-deployment/prod/api/*']);
        }
      }
      expect(allowedTo('ecs:ListServiceDeployments')).toEqual(['Deploy', 'ExecutionEnded', 'Rollback']);
      expect(allowedTo('ecs:DescribeServiceDeployments')).toEqual(['CheckRollout']);
      expect(allowedTo('ecs:StopServiceDeployment')).toEqual(['ExecutionEnded', 'Rollback']);
      expect(allowedTo('states:SendTaskSuccess')).toEqual([
        'CodeDeployAfterAllowTestTraffic',
        'CodeDeployAfterAllowTraffic',
        'CodeDeployBeforeAllowTraffic',
        'Deploy',
        'GateHook',
        'ParkGate',
      ]);
    });

    it('lets CheckImage look up images in the configured repositories only', () => {
      const lookup = roleStatements('CheckImageLambdaFunction').filter((s) => grants(s, 'ecr:DescribeImages'));
      expect(lookup).toHaveLength(1);
      const arns = asArray(lookup[0]?.Resource).map((r) => JSON.stringify(r));
      expect(arns.map((a) => /:repository\/([^"]+)"/.exec(a)?.[1]).sort()).toEqual(['demo-app', 'team/api']);
    });

    it('scopes S3 writes to the prefix each function writes', () => {
      const prefixes = (fn: string) =>
        roleStatements(`${fn}LambdaFunction`)
          .filter((s) => s.Effect === 'Allow' && grants(s, 's3:PutObject'))
          .map((s) => /"\/([\w-]+)\/\*"/.exec(JSON.stringify(s.Resource))?.[1]);
      expect(prefixes('Backup')).toEqual(['backups']);
      expect(prefixes('Record')).toEqual(['audit', 'verified']);
      expect(prefixes('ExecutionEnded')).toEqual(['audit', 'verified', 'gates']);
      expect(prefixes('AggregateLoad')).toEqual(['reports']);
      expect(prefixes('GenerateLoad')).toEqual(['load-results']);
      for (const fn of ['GateHook', 'ParkGate', 'JudgeGate', 'Rollback', 'Deploy', 'CodeDeployAfterAllowTestTraffic'])
        expect(prefixes(fn), fn).toEqual(['gates']);
    });

    it('scopes CodeDeploy to the configured application, deployment group and configs; the hooks may report status only', () => {
      const resources = (action: string) =>
        allStatements(template)
          .filter(({ statement }) => statement.Effect === 'Allow' && grants(statement, action))
          .map(({ where, statement }) => ({
            where,
            arns: asArray(statement.Resource).map((r) =>
              r === '*' ? '*' : /:codedeploy:.*?:(\w+:[^"]+)"/.exec(JSON.stringify(r))?.[1],
            ),
          }));
      for (const action of [
        'codedeploy:CreateDeployment',
        'codedeploy:ListDeployments',
        'codedeploy:BatchGetDeployments',
      ]) {
        const grants = resources(action);
        expect(grants.length, action).toBeGreaterThan(0);
        for (const g of grants) expect(g.arns, action).toEqual(['deploymentgroup:api/api-prod']);
      }
      for (const g of resources('codedeploy:GetDeploymentConfig')) {
        expect(g.arns.sort()).toEqual([
          'deploymentconfig:CodeDeployDefault.ECSAllAtOnce',
          'deploymentconfig:CodeDeployDefault.ECSLinear10PercentEvery1Minutes',
        ]);
      }
      for (const g of resources('codedeploy:RegisterApplicationRevision')) expect(g.arns).toEqual(['application:api']);
      // IAM takes no resource for these two (the ids are the capability): "*", to the functions that report or stop
      for (const g of resources('codedeploy:PutLifecycleEventHookExecutionStatus')) expect(g.arns).toEqual(['*']);
      expect(allowedTo('codedeploy:PutLifecycleEventHookExecutionStatus')).toEqual([
        'CodeDeployAfterAllowTestTraffic',
        'CodeDeployAfterAllowTraffic',
        'CodeDeployBeforeAllowTraffic',
        'ExecutionEnded',
        'JudgeGate',
        'Rollback',
      ]);
      expect(allowedTo('codedeploy:StopDeployment')).toEqual(['ExecutionEnded', 'Rollback']);
      expect(allowedTo('codedeploy:CreateDeployment')).toEqual(['Deploy', 'Rollback']);
      // the hooks: named for AWSCodeDeployRoleForECS, and in Deploy's environment for the AppSpec
      const env = (resource(template, 'DeployLambdaFunction').Properties.Environment as { Variables: Json }).Variables;
      for (const event of ['AfterAllowTestTraffic', 'BeforeAllowTraffic', 'AfterAllowTraffic']) {
        const id = `CodeDeploy${event}LambdaFunction`;
        expect(resource(template, id).Properties.FunctionName).toBe(`CodeDeployHook_rollgate-dev-${event}`);
        const key = `CODEDEPLOY_HOOK_${event.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
        expect(env[key], key).toEqual({ 'Fn::GetAtt': [id, 'Arn'] });
      }
    });

    it('lets AggregateLoad list and read only the reports and audit records the judge compares with', () => {
      const list = roleStatements('AggregateLoadLambdaFunction').filter((s) => grants(s, 's3:ListBucket'));
      expect(list).toHaveLength(1);
      expect(JSON.stringify(list[0]?.Condition)).toBe(
        JSON.stringify({ StringLike: { 's3:prefix': ['reports/*', 'audit/*'] } }),
      );
      const reads = roleStatements('AggregateLoadLambdaFunction').filter((s) => grants(s, 's3:GetObject'));
      const readPrefixes = reads.flatMap((s) =>
        [...JSON.stringify(s.Resource).matchAll(/"\/([\w-]+)\/\*"/g)].map((m) => m[1]),
      );
      expect(readPrefixes.sort()).toEqual(['audit', 'load-results', 'reports']);
    });
  });

  it('outputs the state machine ARN and the bucket name', () => {
    const [machineId] = only(template, 'AWS::StepFunctions::StateMachine');
    expect(template.Outputs.DeployStateMachineArn?.Value).toEqual({ Ref: machineId });
    expect(template.Outputs.ArtifactsBucketName?.Value).toEqual({ Ref: 'ArtifactsBucket' });
  });
});

describe('scripts/serverless-config.cjs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rollgate-package-config-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, doc: unknown) => {
    const file = path.join(dir, name);
    writeFileSync(file, typeof doc === 'string' ? doc : stringifyYaml(doc));
    return file;
  };

  it("derives the repository's own rollgate.config.yml", () => {
    const derived = resolver.derive(resolver.loadConfig(path.join(ROOT, 'rollgate.config.yml')));
    expect(derived.repositories.length).toBeGreaterThan(0);
    expect(JSON.parse(derived.json)).not.toHaveProperty('local');
  });

  it('returns CloudFormation intrinsics, never a dollar-brace string serverless would try to resolve', () => {
    const derived = resolver.derive(resolver.loadConfig(write('ok.yml', FIXTURE_CONFIG)));
    for (const statement of [
      derived.passRoleStatement,
      derived.missedPushImagesStatement,
      derived.missedPushStartStatement,
    ]) {
      expect(JSON.stringify(statement)).not.toContain('${');
    }
    expect(JSON.stringify(derived.repositoryArns)).not.toContain('${');
    expect(derived.serviceArns[0]).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':ecs:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':service/prod/web',
        ],
      ],
    });
    expect(derived.passRoleArns).toEqual([ROLES.web, ROLES.execution]);
  });

  it("puts rollback events on the account's default bus unless ROLLGATE_EVENT_BUS names another", () => {
    expect(resolver.eventBus({}).name).toBe('default');
    expect(resolver.eventBus({ ROLLGATE_EVENT_BUS: '  ' }).name).toBe('default');
    const ops = resolver.eventBus({ ROLLGATE_EVENT_BUS: 'team/ops.events' });
    expect(ops.name).toBe('team/ops.events');
    expect(JSON.stringify(ops.arn)).toContain(':event-bus/team/ops.events"');
  });

  it.each(['arn:aws:events:us-east-1:123456789012:event-bus/ops', 'ops bus', 'x'.repeat(257)])(
    'refuses ROLLGATE_EVENT_BUS=%s, naming the variable and what was expected',
    (value) => {
      expect(() => resolver.eventBus({ ROLLGATE_EVENT_BUS: value })).toThrow(
        /^ROLLGATE_EVENT_BUS: got ".*", expected the name of an event bus .*not an ARN$/,
      );
    },
  );

  it('puts no function in a VPC when none is named, and takes the top-level vpc for every target', () => {
    const none = { ...FIXTURE_CONFIG, targets: [target('web', 'demo-app', 'web', [])] };
    const plain = resolver.derive(resolver.loadConfig(write('no-vpc.yml', none)));
    expect(plain.vpc).toBeNull();
    const top = resolver.derive(resolver.loadConfig(write('top-vpc.yml', { ...none, vpc: VPC })));
    expect(top.vpc).toEqual(VPC);
  });

  it('refuses targets naming different VPCs, and ids that are not subnets or security groups', () => {
    const other = { subnetIds: ['subnet-01234567'], securityGroupIds: ['sg-01234567'] };
    const two = {
      ...FIXTURE_CONFIG,
      targets: [
        { ...target('web', 'demo-app', 'web', []), vpc: VPC },
        { ...target('api', 'team/api', 'api', []), vpc: other },
      ],
    };
    expect(() => resolver.loadConfig(write('two-vpcs.yml', two))).toThrow(
      /targets\[1\]\.vpc: .*the same subnets and security groups as targets\[0\]\.vpc: the prober and the load generators serve every target from one VPC/,
    );
    const bad = { ...FIXTURE_CONFIG, vpc: { subnetIds: ['vpc-01234567'], securityGroupIds: ['sg-01234567'] } };
    expect(() => resolver.loadConfig(write('bad-vpc.yml', bad))).toThrow(
      /vpc\.subnetIds\[0\]: got "vpc-01234567", expected a subnet id such as "subnet-0123456789abcdef0"/,
    );
  });

  it('denies PassRole outright when no target passes a role', () => {
    const config = { ...FIXTURE_CONFIG, targets: [target('web', 'demo-app', 'web', [])] };
    const derived = resolver.derive(resolver.loadConfig(write('no-roles.yml', config)));
    expect(derived.passRoleStatement).toEqual({
      Sid: 'NoTaskRolesToPass',
      Effect: 'Deny',
      Action: 'iam:PassRole',
      Resource: '*',
    });
  });

  it('grants the missed-push check DescribeImages on the checked repositories and StartExecution when on', () => {
    const config = {
      ...FIXTURE_CONFIG,
      targets: [
        { ...target('web', 'demo-app', 'web', []), missedPushCheck: true },
        target('api', 'team/api', 'api', []),
      ],
    };
    const derived = resolver.derive(resolver.loadConfig(write('missed.yml', config)));
    expect(derived.missedPushImagesStatement).toMatchObject({ Effect: 'Allow', Action: 'ecr:DescribeImages' });
    expect(JSON.stringify(derived.missedPushImagesStatement.Resource)).toContain(':repository/demo-app"');
    expect(JSON.stringify(derived.missedPushImagesStatement.Resource)).not.toContain('team/api');
    expect(derived.missedPushStartStatement).toMatchObject({ Effect: 'Allow', Action: 'states:StartExecution' });
  });

  it('fails with a message naming the bad field, its value and the expectation', () => {
    const bad = structuredClone(FIXTURE_CONFIG) as { targets: { health: Json }[] };
    (bad.targets[1] as { health: Json }).health.expectStatus = 42;
    const file = write('bad.yml', bad);
    expect(() => resolver.loadConfig(file)).toThrow(/targets\[1\]\.health\.expectStatus: got 42, expected .*>=100/);
  });

  it('makes npm run package exit 2 with that message, before osls runs', async () => {
    const file = write('bad-cluster.yml', {
      ...FIXTURE_CONFIG,
      targets: [{ ...target('web', 'demo-app', 'web', []), cluster: 'no spaces' }],
    });
    const run = execFileAsync(process.execPath, ['scripts/package.js', '--package', path.join(dir, 'out')], {
      cwd: ROOT,
      env: { ...process.env, ROLLGATE_CONFIG_FILE: file },
      timeout: 60_000,
    });
    await expect(run).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('targets[0].cluster: got "no spaces", expected'),
    });
    const err = (await run.catch((e: unknown) => e)) as { stderr: string };
    expect(err.stderr).not.toMatch(/\n\s+at /);
  });

  it('makes npm run package exit 2 on a ROLLGATE_EVENT_BUS that is not a bus name, before osls runs', async () => {
    const run = execFileAsync(process.execPath, ['scripts/package.js', '--package', path.join(dir, 'out-bus')], {
      cwd: ROOT,
      env: {
        ...process.env,
        ROLLGATE_CONFIG_FILE: write('ok-bus.yml', FIXTURE_CONFIG),
        ROLLGATE_EVENT_BUS: 'arn:aws:events:us-east-1:123456789012:event-bus/ops',
      },
      timeout: 60_000,
    });
    const err = (await run.catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('ROLLGATE_EVENT_BUS: got "arn:aws:events:us-east-1:123456789012:event-bus/ops"');
    expect(err.stderr).not.toMatch(/\n\s+at /);
  });

  it("refuses a config too large for Lambda's 4 KB environment", () => {
    const targets = Array.from({ length: 12 }, (_, i) =>
      target(`service-${i}`, `team/service-${i}`, `service-${i}`, [ROLES.execution]),
    );
    const file = write('large.yml', { version: 1, targets });
    expect(() => resolver.derive(resolver.loadConfig(file))).toThrow(/ROLLGATE_CONFIG would be \d+ bytes/);
  });
});
