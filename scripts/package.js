#!/usr/bin/env node
/**
 * `npm run package [-- <osls options>]`: builds the CloudFormation template and the Lambda zips offline, with
 * `osls package`, into .serverless/ (or `--package DIR`). No AWS account is needed: the child process gets dummy
 * credentials (never your own) and nothing is uploaded or downloaded.
 *
 * The config (rollgate.config.yml, or ROLLGATE_CONFIG_FILE) is validated first, so a bad one fails with the
 * message naming each bad field instead of a framework error; so is ROLLGATE_EVENT_BUS, the EventBridge bus Notify
 * publishes rollback events on (default: the account's default bus). The packaged template is then checked against
 * AWS's IAM data and the CloudFormation specification (scripts/check-template.ts). Exit code: 0 packaged and checked,
 * 2 invalid config or bus name, 1 a template that fails the check, otherwise osls's own.
 *
 *   npm run package
 *   npm run package -- --stage prod --region eu-west-1
 *   ROLLGATE_CONFIG_FILE=configs/prod.yml npm run package -- --package /tmp/rollgate-prod
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const resolver = require('./serverless-config.cjs');

const args = process.argv.slice(2);

function optionValue(name) {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  const arg = args[i];
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[i + 1];
}

// 1. The config, with the same loader serverless.yml uses: a clean message, not a framework stack trace.
const configFile = resolver.configFile();
try {
  const derived = resolver.derive(resolver.loadConfig(configFile));
  const bus = resolver.eventBus();
  if (derived.warning) process.stderr.write(`Warning: ${derived.warning}\n`);
  process.stdout.write(
    `rollgate: ${path.relative(process.cwd(), configFile) || configFile} is valid ` +
      `(repositories: ${derived.repositories.join(', ')}; ROLLGATE_CONFIG ${derived.envBytes} bytes; ` +
      `rollback events on bus ${bus.name}; ${
        derived.vpc
          ? `ProbeHealth and GenerateLoad in subnets ${derived.vpc.subnetIds.join(', ')} with security groups ${derived.vpc.securityGroupIds.join(', ')}`
          : 'no function in a VPC'
      })\n`,
  );
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}

// 2. osls package, offline. Dummy credentials for this child only (AWS's documented example keys): packaging
// makes no AWS call, but the framework wants a credential chain to exist. Profiles are dropped so a developer's
// real credentials are never picked up by the packaging step.
const env = { ...process.env };
for (const name of ['AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN']) delete env[name];
Object.assign(env, {
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
  // osls has no dashboard or telemetry; these keep any Serverless-inherited notice or check quiet and offline.
  SLS_TELEMETRY_DISABLED: '1',
  SLS_TRACKING_DISABLED: '1',
  SLS_NOTIFICATIONS_MODE: 'off',
  SLS_DEPRECATION_NOTIFICATION_MODE: 'warn:summary',
  SLS_INTERACTIVE_SETUP_DISABLE: '1',
  ROLLGATE_CONFIG_FILE: configFile,
});

const osls = path.join(root, 'node_modules', 'osls', 'bin', 'serverless.js');
if (!existsSync(osls)) {
  process.stderr.write(`rollgate: ${osls} not found: run npm install first\n`);
  process.exit(1);
}

const started = Date.now();
const child = spawn(process.execPath, [osls, 'package', ...args], { cwd: root, env, stdio: 'inherit' });
child.on('error', (err) => {
  process.stderr.write(`rollgate: cannot start osls: ${err.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (code !== 0) {
    process.stderr.write(`rollgate: packaging failed after ${seconds} s (${signal ?? `exit code ${code}`})\n`);
    process.exit(code ?? 1);
  }
  const outDir = path.resolve(root, optionValue('--package') ?? '.serverless');
  const template = path.join(outDir, 'cloudformation-template-update-stack.json');
  const shown = path.relative(process.cwd(), template);
  process.stdout.write(
    `rollgate: packaged in ${seconds} s\n  template: ${shown.startsWith('..') ? template : shown}\n`,
  );
  // 3. The template against AWS's IAM data and the CloudFormation specification (scripts/check-template.ts): an
  // action, ARN or property typo fails here, not at the first real deploy.
  const check = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'scripts', 'check-template.ts'), template],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  check.on('exit', (checkCode) => {
    if (checkCode !== 0) {
      process.stderr.write('rollgate: the packaged template fails the IAM / CloudFormation check (above)\n');
      process.exit(1);
    }
  });
});
