'use strict';
/**
 * Serverless variable source for rollgate.config.yml: serverless.yml reads `${file(./scripts/serverless-config.cjs):X}`.
 *
 * The config is loaded and validated once, through the same TypeScript loader the CLI and the Lambdas use
 * (src/config/load.ts, run with tsx), from ROLLGATE_CONFIG_FILE or rollgate.config.yml in the working directory.
 * A bad config fails packaging with the ConfigError message (one line per bad field: path, value, expectation).
 *
 * Every value is plain data or CloudFormation intrinsics (`Fn::Join`, `Ref` to pseudo parameters): never a `${...}`
 * string, which serverless would try to resolve as one of its own variables.
 *
 * Exports (each a function serverless calls with `{ options }`):
 * - `json`: the validated config (without the `local` section) as a JSON string, for ROLLGATE_CONFIG.
 * - `repositories`: the unique ECR repository names, for the EventBridge rule's `detail.repository-name`.
 * - `serviceArns`: the targets' ECS service ARNs.
 * - `serviceDeploymentArns`: the ARNs of their ECS service deployments (progressive delivery: Describe, Stop).
 * - `passRoleArns`: the unique IAM role ARNs the targets' task definitions pass (`targets[].passRoles`).
 * - `repositoryArns`: the repositories' ECR ARNs in the stack's account and region (CheckImage's DescribeImages).
 * - `passRoleStatement`: Register's iam:PassRole on those roles, to ECS tasks only (an explicit Deny when none).
 * - `missedPushImagesStatement`, `missedPushStartStatement`: the missed-push check's DescribeImages on the checked
 *   repositories and StartExecution on this stage's state machine (explicit Denies when no target turns it on).
 * - `missedPushCheck`: whether any target has the missed-push check on (enables its schedule).
 * - `vpc`: the `vpc` of the functions that send requests to the targets' URLs (ProbeHealth, GenerateLoad):
 *   `{ subnetIds, securityGroupIds }` from the top-level `vpc` or the one the targets name, `{}` when none (no
 *   VpcConfig, and no network-interface policy on their roles).
 * - `codeDeploy*Statement`: the CodeDeploy grants of the targets with `codeDeploy` (services on the CODE_DEPLOY
 *   controller), scoped to their deployment groups, applications and deployment configs; StopDeployment and
 *   PutLifecycleEventHookExecutionStatus accept no resource (IAM allows only "*"). Explicit Denies when no target uses
 *   CodeDeploy.
 * - `eventBusName`, `eventBusArn`: the EventBridge bus Notify publishes rollback events on: ROLLGATE_EVENT_BUS at
 *   packaging time, the account's `default` bus when unset (the ECR push rule is always on the default bus, where ECR
 *   sends its events).
 */

const path = require('node:path');

/** The config file when ROLLGATE_CONFIG_FILE is not set, relative to the working directory (the service dir). */
const DEFAULT_CONFIG_FILE = 'rollgate.config.yml';

/**
 * Lambda allows 4 KB for all of a function's environment variables together (keys and values). Keep a margin for
 * the others Normalize gets (ARTIFACTS_BUCKET, NODE_OPTIONS) and warn well before the wall.
 */
const LAMBDA_ENV_LIMIT_BYTES = 4096;
const OTHER_ENV_RESERVE_BYTES = 512;
const WARN_RATIO = 0.75;

/** The config file this process uses, absolute. */
function configFile(env = process.env) {
  const file = env.ROLLGATE_CONFIG_FILE?.trim() || DEFAULT_CONFIG_FILE;
  return path.resolve(process.cwd(), file);
}

/**
 * An error serverless prints as a clean message: it appends `error.stack` to its own text, so the stack is replaced
 * by the message (the trace of a config mistake only hides the line that matters).
 */
function cleanError(message) {
  const err = new Error(message);
  err.name = 'ConfigError';
  err.stack = message;
  return err;
}

function loadTsModule(relative) {
  // tsx's CommonJS API compiles the .ts module (and its .ts imports) on the fly; osls itself is CommonJS.
  const { require: tsxRequire } = require('tsx/cjs/api');
  return tsxRequire(relative, __filename);
}

/** Loads and validates the config; throws an error whose message names the file and every bad field. */
function loadConfig(file = configFile()) {
  const { loadConfigFile } = loadTsModule('../src/config/load.ts');
  try {
    return loadConfigFile(file);
  } catch (err) {
    if (err && err.name === 'ConfigError') {
      throw cleanError(`rollgate config: ${err.message}`);
    }
    throw err;
  }
}

const unique = (values) => [...new Set(values)];

/** `{ Fn::Join }` for `arn:<partition>:<service>:<region>:<account>:<resource>` in the stack's own account/region. */
function arnInStack(service, resource) {
  return {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        `:${service}:`,
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:${resource}`,
      ],
    ],
  };
}

/**
 * The ECS service ARN of a target. Long ARN format (`service/<cluster>/<service>`, the default since 2021); a
 * `service` given as a full ARN is used as is. Services are expected in the stack's account and region.
 */
function serviceArn(target) {
  if (target.service.startsWith('arn:')) return target.service;
  return arnInStack('ecs', `service/${target.cluster}/${target.service}`);
}

/** The ARNs of a target's ECS service deployments (`service-deployment/<cluster>/<service>/*`). */
function serviceDeploymentArn(target) {
  if (target.service.startsWith('arn:')) return `${target.service.replace(':service/', ':service-deployment/')}/*`;
  return arnInStack('ecs', `service-deployment/${target.cluster}/${target.service}/*`);
}

/** The ECR repository ARN of a repository name in the stack's account and region (what push events come from). */
function repositoryArn(name) {
  return arnInStack('ecr', `repository/${name}`);
}

/** The Rollback's redeploy of a backup after a CodeDeploy deployment succeeded uses this config (codedeploy-rollout.ts). */
const ROLLBACK_DEPLOYMENT_CONFIG = 'CodeDeployDefault.ECSAllAtOnce';

/**
 * The CodeDeploy statements, one per use (see serverless.yml), from the targets' `codeDeploy` sections; each an
 * explicit Deny on "*" when no target deploys through CodeDeploy.
 */
function codeDeployStatements(config) {
  const specs = config.targets.filter((t) => t.codeDeploy).map((t) => t.codeDeploy);
  const groups = unique(specs.map((c) => `deploymentgroup:${c.application}/${c.deploymentGroup}`));
  const applications = unique(specs.map((c) => `application:${c.application}`));
  const configs = unique([...specs.map((c) => c.deploymentConfig), ROLLBACK_DEPLOYMENT_CONFIG]).map(
    (name) => `deploymentconfig:${name}`,
  );
  const statement = (sid, action, resources) =>
    specs.length > 0
      ? {
          Sid: sid,
          Effect: 'Allow',
          Action: action,
          Resource: resources === '*' ? '*' : resources.map((r) => arnInStack('codedeploy', r)),
        }
      : { Sid: `${sid}NoCodeDeployTargets`, Effect: 'Deny', Action: action, Resource: '*' };
  return {
    // find the deployment an execution created, and follow it (Deploy, Rollback, CheckRollout)
    codeDeployFollowStatement: statement(
      'FollowCodeDeployDeployments',
      ['codedeploy:ListDeployments', 'codedeploy:BatchGetDeployments'],
      groups,
    ),
    codeDeployReadStatement: statement('ReadCodeDeployDeployments', 'codedeploy:BatchGetDeployments', groups),
    // CreateDeployment with an AppSpec: the group, its config and the application's revision (Deploy, Rollback)
    codeDeployCreateStatement: statement('CreateCodeDeployDeployments', 'codedeploy:CreateDeployment', groups),
    codeDeployConfigStatement: statement('ReadCodeDeployConfigs', 'codedeploy:GetDeploymentConfig', configs),
    codeDeployRevisionStatement: statement(
      'RegisterCodeDeployRevisions',
      ['codedeploy:GetApplicationRevision', 'codedeploy:RegisterApplicationRevision'],
      applications,
    ),
    // IAM takes no resource for these two: "*" (a deployment id or a hook execution id is all they act on)
    codeDeployStopStatement: statement('StopCodeDeployDeployments', 'codedeploy:StopDeployment', '*'),
    codeDeployReportStatement: statement(
      'ReportCodeDeployHooks',
      'codedeploy:PutLifecycleEventHookExecutionStatus',
      '*',
    ),
  };
}

/** The VPC of the request senders: the top-level `vpc`, else the one the targets name (the schema makes them agree). */
function stackVpc(config) {
  const vpc = config.vpc ?? config.targets.find((t) => t.vpc)?.vpc;
  return vpc ? { subnetIds: [...vpc.subnetIds], securityGroupIds: [...vpc.securityGroupIds] } : null;
}

/** The values serverless.yml reads, derived from one validated config. */
function derive(config, stage = 'dev') {
  const { local: _local, ...deployed } = config;
  const json = JSON.stringify(deployed);
  const envBytes = Buffer.byteLength('ROLLGATE_CONFIG', 'utf8') + Buffer.byteLength(json, 'utf8');
  const budget = LAMBDA_ENV_LIMIT_BYTES - OTHER_ENV_RESERVE_BYTES;
  if (envBytes > budget) {
    throw cleanError(
      `rollgate config: ROLLGATE_CONFIG would be ${envBytes} bytes, over the ${budget} bytes left of Lambda's ` +
        `${LAMBDA_ENV_LIMIT_BYTES}-byte environment limit (${config.targets.length} targets). ` +
        'Remove unused optional fields (defaults need not be written) or split the targets over several stages.',
    );
  }
  const warning =
    envBytes > budget * WARN_RATIO
      ? `rollgate config: ROLLGATE_CONFIG is ${envBytes} of ${budget} bytes available in Lambda's environment`
      : undefined;

  const repositories = unique(config.targets.map((t) => t.repository));
  const serviceArns = config.targets.map(serviceArn);
  const serviceDeploymentArns = config.targets.map(serviceDeploymentArn);
  const passRoleArns = unique(config.targets.flatMap((t) => t.passRoles ?? []));

  const checked = unique(config.targets.filter((t) => t.missedPushCheck).map((t) => t.repository));
  const missedPushCheck = checked.length > 0;
  const repositoryArns = repositories.map(repositoryArn);

  /**
   * The statements that depend on the config, one per use, for serverless.yml's per-function roles. A grant with
   * nothing to grant (no role to pass, no repository checked for missed pushes) is an explicit Deny on "*":
   * IAM has no empty Resource list, and a Deny says in the template that the function may not.
   */
  const passRoleStatement =
    passRoleArns.length > 0
      ? {
          Sid: 'PassTaskRoles',
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: passRoleArns,
          Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        }
      : { Sid: 'NoTaskRolesToPass', Effect: 'Deny', Action: 'iam:PassRole', Resource: '*' };
  const missedPushImagesStatement = missedPushCheck
    ? {
        Sid: 'ListPushedImages',
        Effect: 'Allow',
        Action: 'ecr:DescribeImages',
        Resource: checked.map(repositoryArn),
      }
    : { Sid: 'MissedPushCheckOff', Effect: 'Deny', Action: 'ecr:DescribeImages', Resource: '*' };
  const missedPushStartStatement = missedPushCheck
    ? {
        // the missed-push check starts an execution of this stage's state machine (by name: the state machine's
        // own id depends on the functions, so it cannot be referenced from their roles)
        Sid: 'StartMissedPushExecutions',
        Effect: 'Allow',
        Action: 'states:StartExecution',
        Resource: arnInStack('states', `stateMachine:rollgate-deploy-${stage}`),
      }
    : { Sid: 'MissedPushCheckOffNoStart', Effect: 'Deny', Action: 'states:StartExecution', Resource: '*' };

  const vpc = stackVpc(config);

  return {
    ...codeDeployStatements(config),
    json,
    envBytes,
    warning,
    repositories,
    repositoryArns,
    serviceArns,
    serviceDeploymentArns,
    passRoleArns,
    passRoleStatement,
    missedPushImagesStatement,
    missedPushStartStatement,
    missedPushCheck,
    vpc,
  };
}

/** EventBridge event bus names: 1-256 letters, digits and . _ - / (an ARN is not a name). */
const EVENT_BUS_NAME = /^[A-Za-z0-9._\-/]{1,256}$/;

/**
 * The bus Notify publishes on, from ROLLGATE_EVENT_BUS (default: `default`): its name for EVENT_BUS_NAME and its ARN
 * in this stack's account and region for the PutEvents grant. Throws a clean error naming the variable when the value
 * is not a bus name.
 */
function eventBus(env = process.env) {
  const raw = env.ROLLGATE_EVENT_BUS;
  const name = raw === undefined || raw.trim() === '' ? 'default' : raw.trim();
  if (!EVENT_BUS_NAME.test(name)) {
    throw cleanError(
      `ROLLGATE_EVENT_BUS: got ${JSON.stringify(raw)}, expected the name of an event bus in the stack's account and ` +
        'region (1-256 of A-Z a-z 0-9 . _ - /), not an ARN',
    );
  }
  return { name, arn: arnInStack('events', `event-bus/${name}`) };
}

let cachedConfig;
let warned = false;
/** The config is loaded once per process (serverless resolves several addresses of this file); derived per stage. */
function current(stage) {
  cachedConfig ??= loadConfig();
  const derived = derive(cachedConfig, stage);
  if (derived.warning && !warned) {
    warned = true;
    process.stderr.write(`Warning: ${derived.warning}\n`);
  }
  return derived;
}

module.exports = {
  json: () => current().json,
  repositories: () => current().repositories,
  serviceArns: () => current().serviceArns,
  serviceDeploymentArns: () => current().serviceDeploymentArns,
  passRoleArns: () => current().passRoleArns,
  repositoryArns: () => current().repositoryArns,
  passRoleStatement: () => current().passRoleStatement,
  missedPushImagesStatement: () => current().missedPushImagesStatement,
  // serverless passes the CLI options: the stage names the state machine (serverless.yml: ${opt:stage, 'dev'})
  missedPushStartStatement: ({ options } = {}) => current(options?.stage ?? 'dev').missedPushStartStatement,
  missedPushCheck: () => current().missedPushCheck,
  vpc: () => current().vpc ?? {},
  codeDeployFollowStatement: () => current().codeDeployFollowStatement,
  codeDeployReadStatement: () => current().codeDeployReadStatement,
  codeDeployCreateStatement: () => current().codeDeployCreateStatement,
  codeDeployConfigStatement: () => current().codeDeployConfigStatement,
  codeDeployRevisionStatement: () => current().codeDeployRevisionStatement,
  codeDeployStopStatement: () => current().codeDeployStopStatement,
  codeDeployReportStatement: () => current().codeDeployReportStatement,
  eventBusName: () => eventBus().name,
  eventBusArn: () => eventBus().arn,
  // For scripts/package.js and tests: not read by serverless.yml.
  configFile,
  loadConfig,
  derive,
  eventBus,
};
