import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, NoSuchBucket, S3Client } from '@aws-sdk/client-s3';
import {
  ExecutionNotRedrivable,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseWindow } from '../../cli/args.ts';
import type { Io } from '../../cli/io.ts';
import { main } from '../../cli/main.ts';
import { storedExecution } from '../../local/history.ts';
import { type AuditRecord, auditDayPrefixes } from '../../src/core/audit.ts';

const sfnMock = mockClient(SFNClient);
const s3Mock = mockClient(S3Client);
const sfn = new SFNClient({ region: 'eu-west-1' });
const s3 = new S3Client({ region: 'eu-west-1' });

const SM = 'arn:aws:states:eu-west-1:123456789012:stateMachine:rollgate-deploy-prod';
const EXEC = (name: string) => `arn:aws:states:eu-west-1:123456789012:execution:rollgate-deploy-prod:${name}`;
const NOW = new Date('2026-11-22T10:00:00.000Z');

/** Runs a command with the mocked clients, a fixed clock and env, capturing what it prints. */
async function run(command: string, argv: string[], env: Record<string, string> = { USER: 'alice' }) {
  let out = '';
  let err = '';
  const io: Io = {
    now: () => NOW,
    env,
    isTty: false,
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  };
  const code = await main([command, ...argv], io, { sfn, s3 });
  return { code, out, err };
}

beforeEach(() => {
  sfnMock.reset();
  s3Mock.reset();
});

describe('rollgate start', () => {
  it('starts the execution with a readable unique name and the manual input, and prints its ARN and console URL', async () => {
    sfnMock.on(StartExecutionCommand).callsFake((input) => ({
      executionArn: EXEC(input.name),
      startDate: NOW,
    }));
    const r = await run('start', [
      '--repository',
      'team/web',
      '--tag',
      'v2.1',
      '--reason',
      're-deploy after the config fix',
      '--force',
      '--state-machine-arn',
      SM,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const calls = sfnMock.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const sent = calls[0]?.args[0].input;
    expect(sent?.stateMachineArn).toBe(SM);
    // executionName(): <repository with / as .>-<tag>-<yyyymmddThhmmssZ>-<rand4>
    expect(sent?.name).toMatch(/^team\.web-v2\.1-20261122T100000Z-[0-9a-f]{4}$/);
    expect(JSON.parse(sent?.input ?? '')).toEqual({
      repository: 'team/web',
      tag: 'v2.1',
      reason: 're-deploy after the config fix',
      force: true,
      startedBy: 'alice',
    });
    const arn = EXEC(sent?.name ?? '');
    expect(r.out).toContain(`execution ${arn}`);
    expect(r.out).toContain(
      `console   https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${arn}`,
    );
  });

  it('pins by digest, takes --started-by, and prints JSON', async () => {
    sfnMock.on(StartExecutionCommand).callsFake((input) => ({ executionArn: EXEC(input.name), startDate: NOW }));
    const digest = `sha256:${'ab12'.repeat(16)}`;
    const r = await run('start', [
      '--repository',
      'demo-app',
      '--digest',
      digest,
      '--started-by',
      'ci-bot',
      '--state-machine-arn',
      SM,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const sent = sfnMock.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(sent?.name).toMatch(/^demo-app-ab12ab12-20261122T100000Z-[0-9a-f]{4}$/);
    expect(JSON.parse(sent?.input ?? '')).toEqual({ repository: 'demo-app', digest, startedBy: 'ci-bot' });
    const printed = JSON.parse(r.out);
    expect(printed).toMatchObject({
      executionName: sent?.name,
      executionArn: EXEC(sent?.name ?? ''),
      startDate: NOW.toISOString(),
    });
    expect(printed.consoleUrl).toMatch(
      /^https:\/\/eu-west-1\.console\.aws\.amazon\.com\/states\/home\?region=eu-west-1#/,
    );
  });

  it('takes the state machine from ROLLGATE_STATE_MACHINE_ARN', async () => {
    sfnMock.on(StartExecutionCommand).callsFake((input) => ({ executionArn: EXEC(input.name), startDate: NOW }));
    const r = await run('start', ['--repository', 'demo-app', '--tag', 'v2'], {
      ROLLGATE_STATE_MACHINE_ARN: SM,
    });
    expect(r.code).toBe(0);
    const sent = sfnMock.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(JSON.parse(sent?.input ?? '')).toEqual({ repository: 'demo-app', tag: 'v2' });
  });

  it.each([
    [['--tag', 'v2', '--state-machine-arn', SM], '--repository is required'],
    [['--repository', 'demo-app', '--state-machine-arn', SM], 'give --tag T or --digest sha256:<hex>'],
    [['--repository', 'demo-app', '--tag', 'v2'], '--state-machine-arn is required'],
    [
      ['--repository', 'demo-app', '--tag', 'v2', '--state-machine-arn', 'rollgate-deploy-prod'],
      '--state-machine-arn: got "rollgate-deploy-prod", expected arn:aws:states:',
    ],
    [
      ['--repository', 'demo-app', '--tag', 'v 2', '--state-machine-arn', SM],
      '--tag: got "v 2", expected an image tag',
    ],
    [
      ['--repository', 'demo-app', '--digest', 'abc', '--state-machine-arn', SM],
      '--digest: got "abc", expected a digest "sha256:" + 64',
    ],
    [['--repository', 'demo-app', '--tag', 'v2', '--state-machine-arn', SM, '--colour'], "Unknown option '--colour'"],
    [
      ['--repository', 'demo-app', '--tag', 'v2', '--state-machine-arn', SM, '--started-by', ' '],
      '--started-by: got ""',
    ],
  ])('exits 2 on bad arguments: %j', async (argv, message) => {
    const r = await run('start', argv, {});
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err).toMatch(/^rollgate start: /);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('explains a missing state machine, exit 1, no stack trace', async () => {
    sfnMock
      .on(StartExecutionCommand)
      .rejects(new StateMachineDoesNotExist({ message: `State Machine Does Not Exist: '${SM}'`, $metadata: {} }));
    const r = await run('start', ['--repository', 'demo-app', '--tag', 'v2', '--state-machine-arn', SM]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no such state machine');
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('says how to provide credentials when there are none', async () => {
    sfnMock
      .on(StartExecutionCommand)
      .rejects(
        Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }),
      );
    const r = await run('start', ['--repository', 'demo-app', '--tag', 'v2', '--state-machine-arn', SM]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'rollgate start: no AWS credentials found: set AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n',
    );
  });
});

describe('rollgate redrive', () => {
  const arn = EXEC('demo-app-v3-20261121T080000Z-0a1b');

  it('redrives the execution and prints its console URL', async () => {
    sfnMock.on(RedriveExecutionCommand).resolves({ redriveDate: NOW });
    const r = await run('redrive', [arn]);
    expect(r.code).toBe(0);
    expect(sfnMock.commandCalls(RedriveExecutionCommand)[0]?.args[0].input).toEqual({ executionArn: arn });
    expect(r.out).toBe(
      `redriven ${arn} at 2026-11-22T10:00:00.000Z\n  console   https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${arn}\n`,
    );
  });

  it('explains ExecutionNotRedrivable and says to start a new execution', async () => {
    sfnMock.on(RedriveExecutionCommand).rejects(
      new ExecutionNotRedrivable({
        message: `Execution is SUCCEEDED and cannot be redriven: ${arn}`,
        $metadata: {},
      }),
    );
    const r = await run('redrive', [arn]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `rollgate redrive: AWS refused to redrive this execution (ExecutionNotRedrivable): Execution is SUCCEEDED and cannot be redriven: ${arn}`,
    );
    expect(r.err).toContain('14');
    expect(r.err).toContain('rollgate start --repository R --tag T --state-machine-arn ARN');
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it.each([
    [[], 'expected exactly one execution ARN, got 0'],
    [[arn, arn], 'expected exactly one execution ARN, got 2'],
    [[SM], `<execution-arn>: got "${SM}", expected arn:aws:states:<region>:<account>:execution:`],
  ])('exits 2 on bad arguments: %j', async (argv, message) => {
    const r = await run('redrive', argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(sfnMock.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
  });
});

function audit(
  name: string,
  startedAt: string,
  outcome: AuditRecord['outcome'],
  service: string,
  extra: Partial<AuditRecord> = {},
): AuditRecord {
  const endedAt = new Date(Date.parse(startedAt) + 5 * 60_000).toISOString();
  return {
    schema: 'rollgate.audit.v1',
    executionName: name,
    executionId: EXEC(name),
    outcome,
    reason: `${outcome.toLowerCase()} reason`,
    trigger: { type: 'push', eventId: `ev-${name}`, eventTime: new Date(Date.parse(startedAt) - 60_000).toISOString() },
    target: service,
    cluster: 'prod',
    service,
    image: { repository: service, tag: name, display: `${service}:${name}` },
    ...(outcome === 'IGNORED' ? {} : { backupKey: `backups/prod/${service}/${name}.json` }),
    startedAt,
    endedAt,
    durationMs: 300_000,
    ...extra,
  };
}

/** An in-memory bucket behind the S3 mock; lists page by one key so pagination is exercised. */
function bucketWith(records: AuditRecord[]) {
  const objects = new Map(records.map((r) => [`audit/dt=${r.startedAt.slice(0, 10)}/${r.executionName}.json`, r]));
  objects.set('audit/dt=2026-11-21/_notes.txt', { note: 'not an audit record' } as never);
  s3Mock.on(ListObjectsV2Command).callsFake((input) => {
    const keys = [...objects.keys()].filter((k) => k.startsWith(input.Prefix ?? '')).sort();
    const from = input.ContinuationToken ? Number(input.ContinuationToken) : 0;
    const page = keys.slice(from, from + 1);
    const more = from + 1 < keys.length;
    return {
      Contents: page.map((Key) => ({ Key })),
      IsTruncated: more,
      ...(more ? { NextContinuationToken: String(from + 1) } : {}),
    };
  });
  s3Mock.on(GetObjectCommand).callsFake((input) => {
    const body = JSON.stringify(objects.get(input.Key ?? ''));
    return { Body: { transformToString: async () => body } } as never;
  });
}

const trail = [
  audit('old', '2026-11-20T08:00:00.000Z', 'DEPLOYED', 'web'), // on the first day listed, before --since 2d
  audit('w1', '2026-11-20T12:00:00.000Z', 'DEPLOYED', 'web'),
  audit('w2', '2026-11-21T09:00:00.000Z', 'ROLLED_BACK', 'web', {
    error: 'HealthCheckFailedError',
    reason: 'health check failed: 500; rolled back to web:w1',
  }),
  audit('w3', '2026-11-21T15:00:00.000Z', 'DEPLOYED', 'web'),
  audit('a1', '2026-11-22T08:00:00.000Z', 'DEPLOYED', 'api'),
];

describe('rollgate history --aws', () => {
  it('lists the window newest first, with running executions, reading only the window days', async () => {
    bucketWith(trail);
    sfnMock.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: EXEC('web-v9-running'),
          stateMachineArn: SM,
          name: 'web-v9-running',
          status: 'RUNNING',
          startDate: new Date('2026-11-22T09:55:00.000Z'),
        },
      ],
    });
    const r = await run('history', [
      '--aws',
      '--bucket',
      'artifacts',
      '--state-machine-arn',
      SM,
      '--since',
      '2d',
      '--json',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as { executionName: string; outcome: string }[];
    expect(rows.map((x) => [x.executionName, x.outcome])).toEqual([
      ['web-v9-running', 'RUNNING'],
      ['a1', 'DEPLOYED'],
      ['w3', 'DEPLOYED'],
      ['w2', 'ROLLED_BACK'],
      ['w1', 'DEPLOYED'],
    ]);
    expect(
      s3Mock
        .commandCalls(ListObjectsV2Command)
        .filter((c) => !c.args[0].input.ContinuationToken)
        .map((c) => [c.args[0].input.Bucket, c.args[0].input.Prefix]),
    ).toEqual([
      ['artifacts', 'audit/dt=2026-11-20/'],
      ['artifacts', 'audit/dt=2026-11-21/'],
      ['artifacts', 'audit/dt=2026-11-22/'],
    ]);
    expect(sfnMock.commandCalls(ListExecutionsCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: SM,
      statusFilter: 'RUNNING',
      maxResults: 100,
    });
  });

  it('prints a table with the RUNNING row on top', async () => {
    bucketWith(trail);
    sfnMock.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: EXEC('web-v9-running'),
          stateMachineArn: SM,
          name: 'web-v9-running',
          status: 'RUNNING',
          startDate: new Date('2026-11-22T09:55:00.000Z'),
        },
      ],
    });
    const r = await run('history', ['--aws', '--bucket', 'artifacts', '--state-machine-arn', SM]);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^started\s+trigger\s+service\s+image\s+outcome\s+reason\s+duration$/);
    expect(lines[2]).toMatch(/^2026-11-22 09:55:00 .*web-v9-running\s+RUNNING\s+running$/);
    expect(lines[3]).toMatch(/^2026-11-22 08:00:00\s+push\s+prod\/api\s+api:a1\s+DEPLOYED/);
    expect(r.out).toContain('health check failed: 500; rolled back to web:w1');
    expect(lines).toHaveLength(2 + 6); // 30 days by default: "old" is in
  });

  it('filters by service (running executions name none yet, so they are left out)', async () => {
    bucketWith(trail);
    const r = await run('history', [
      '--aws',
      '--bucket',
      'artifacts',
      '--state-machine-arn',
      SM,
      '--service',
      'prod/web',
      '--limit',
      '2',
      '--json',
    ]);
    expect((JSON.parse(r.out) as { executionName: string }[]).map((x) => x.executionName)).toEqual(['w3', 'w2']);
    expect(sfnMock.commandCalls(ListExecutionsCommand)).toHaveLength(0);
  });

  it('takes the bucket from ROLLGATE_BUCKET; without a state machine it lists no running executions', async () => {
    bucketWith(trail);
    const r = await run('history', ['--aws', '--since', '2026-11-22', '--json'], {
      ROLLGATE_BUCKET: 'artifacts',
    });
    expect((JSON.parse(r.out) as { executionName: string }[]).map((x) => x.executionName)).toEqual(['a1']);
    expect(sfnMock.commandCalls(ListExecutionsCommand)).toHaveLength(0);
  });

  it('exits 2 without a bucket, and explains a missing bucket', async () => {
    const none = await run('history', ['--aws'], {});
    expect(none.code).toBe(2);
    expect(none.err).toContain('--aws needs --bucket B (or ROLLGATE_BUCKET)');

    s3Mock
      .on(ListObjectsV2Command)
      .rejects(new NoSuchBucket({ message: 'The specified bucket does not exist', $metadata: {} }));
    const missing = await run('history', ['--aws', '--bucket', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^rollgate history: bucket "nope" does not exist: check --bucket/);
    expect(missing.err).not.toMatch(/\n\s+at /);
  });

  it('is what `rollgate history --aws` runs, and the new commands are registered', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    vi.stubEnv('ROLLGATE_BUCKET', '');
    vi.stubEnv('ROLLGATE_STATE_MACHINE_ARN', '');
    try {
      expect(await main(['history', '--aws'])).toBe(2);
      expect(String(stderr.mock.calls[0]?.[0])).toContain('--aws needs --bucket B');
      expect(await main(['start', '--tag', 'v2'])).toBe(2);
      expect(String(stderr.mock.calls[1]?.[0])).toContain('--repository is required');
      expect(await main(['redrive'])).toBe(2);
      expect(await main(['metrics', '--since', 'yesterday'])).toBe(2);
      expect(String(stderr.mock.calls[3]?.[0])).toContain('--since: got "yesterday", expected an ISO date');
    } finally {
      stderr.mockRestore();
    }
  });
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('rollgate metrics --aws', () => {
  it('reads only the day prefixes of the window and computes the figures', async () => {
    bucketWith(trail);
    const r = await run('metrics', [
      '--aws',
      '--bucket',
      'artifacts',
      '--since',
      '2026-11-21',
      '--until',
      '2026-11-21',
      '--json',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(
      s3Mock
        .commandCalls(ListObjectsV2Command)
        .filter((c) => !c.args[0].input.ContinuationToken)
        .map((c) => c.args[0].input.Prefix),
    ).toEqual(['audit/dt=2026-11-21/']);
    const report = JSON.parse(r.out);
    // 2026-11-21: w2 rolled back (restored in its own 5 min), w3 deployed (lead 6 min from the push)
    expect(report.since).toBe('2026-11-21T00:00:00.000Z');
    expect(report.until).toBe('2026-11-21T23:59:59.999Z');
    expect(report.overall.deployments.count).toBe(1);
    expect(report.overall.changeFailureRate).toEqual({ failed: 1, attempts: 2, rate: 0.5 });
    expect(report.overall.leadTime.medianMs).toBe(6 * 60_000);
    expect(report.overall.timeToRestore.meanMs).toBe(5 * 60_000);
    expect(Object.keys(report.services)).toEqual(['prod/web']);
  });

  it('defaults to the last 30 days and renders text; --service narrows it', async () => {
    bucketWith(trail);
    const r = await run('metrics', ['--aws', '--bucket', 'artifacts', '--service', 'api']);
    expect(r.code).toBe(0);
    const prefixes = s3Mock
      .commandCalls(ListObjectsV2Command)
      .filter((c) => !c.args[0].input.ContinuationToken)
      .map((c) => c.args[0].input.Prefix);
    expect(prefixes).toHaveLength(31);
    expect(prefixes[0]).toBe('audit/dt=2026-10-23/');
    expect(prefixes[30]).toBe('audit/dt=2026-11-22/');
    expect(r.out).toContain('DORA metrics 2026-10-23T10:00:00.000Z .. 2026-11-22T10:00:00.000Z (30.0 days)');
    expect(r.out).toContain('prod/api');
    expect(r.out).not.toContain('prod/web');
  });

  it('refuses windows longer than a year on S3', async () => {
    const r = await run('metrics', ['--aws', '--bucket', 'artifacts', '--since', '400d']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('expected at most 366 with --aws');
    expect(s3Mock.commandCalls(ListObjectsV2Command)).toHaveLength(0);
  });
});

/** Writes records as the local runner stores its executions (`<stateDir>/executions/<name>.json`). */
function localHistoryWith(records: AuditRecord[]): string {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'rollgate-metrics-'));
  mkdirSync(path.join(stateDir, 'executions'));
  for (const r of records) {
    const result = {
      executionArn: r.executionId,
      name: r.executionName,
      status: 'SUCCEEDED' as const,
      startDate: r.startedAt,
      stopDate: r.endedAt,
      input: {},
      statesEntered: [],
      events: [],
    };
    writeFileSync(
      path.join(stateDir, 'executions', `${r.executionName}.json`),
      JSON.stringify(storedExecution(result, r)),
    );
  }
  return stateDir;
}

describe('rollgate metrics (local)', () => {
  const local = (name: string, startedAt: string, endedAt: string, extra: Partial<AuditRecord>) =>
    audit(name, startedAt, 'DEPLOYED', 'demo-app', { cluster: 'demo', endedAt, ...extra });
  const records = [
    // deployed, pushed 2 min before it started, healthy 3 min after: lead 5 min
    local('d1', '2026-11-20T10:00:00.000Z', '2026-11-20T10:03:00.000Z', {
      trigger: { type: 'push', eventTime: '2026-11-20T09:58:00.000Z' },
    }),
    // the rollback failed; restored by d3 (ended 12:10): 2 h 10 min
    local('f2', '2026-11-21T10:00:00.000Z', '2026-11-21T10:20:00.000Z', { outcome: 'FAILED', error: 'RollbackFailed' }),
    // manual deploy: lead from its start, 10 min
    local('d3', '2026-11-21T12:00:00.000Z', '2026-11-21T12:10:00.000Z', { trigger: { type: 'manual' } }),
    // failed before any change (no backup, no new revision)
    (({ backupKey: _none, ...r }) => r)(
      local('f4', '2026-11-21T13:00:00.000Z', '2026-11-21T13:00:01.000Z', {
        outcome: 'FAILED',
        error: 'TargetNotFoundError',
      }),
    ),
    // failed after Register created a revision: a failed change, locally as on AWS; restored by d6
    local('f5', '2026-11-21T14:00:00.000Z', '2026-11-21T14:05:00.000Z', {
      outcome: 'FAILED',
      error: 'LockLostError',
      newTaskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/demo-app:7',
    }),
    local('d6', '2026-11-21T15:00:00.000Z', '2026-11-21T15:05:00.000Z', { trigger: { type: 'manual' } }),
  ];

  let stateDir: string;
  beforeEach(() => {
    stateDir = localHistoryWith(records);
    bucketWith(records);
  });
  afterEach(() => {
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("reads the local executions' audit records: service as cluster/service, push time from the trigger", async () => {
    const r = await run('metrics', ['--state-dir', stateDir, '--since', '7d', '--json']);
    expect(r.err).toBe('');
    const report = JSON.parse(r.out);
    expect(Object.keys(report.services)).toEqual(['demo/demo-app']);
    expect(report.overall.deployments.count).toBe(3);
    expect(report.overall.leadTime).toMatchObject({ count: 3, fromPush: 1, fromStart: 2, missing: 0 });
    expect(report.overall.changeFailureRate).toEqual({ failed: 2, attempts: 5, rate: 2 / 5 });
    expect(report.overall.timeToRestore).toMatchObject({ restored: 2 });
    expect(report.overall.notCounted).toEqual({ ignored: 0, failedWithoutChange: 1 });
  });

  it('classifies every execution as `metrics --aws` does for the same records', async () => {
    const args = ['--since', '2026-11-19', '--until', '2026-11-22', '--json'];
    const fromLocal = await run('metrics', ['--state-dir', stateDir, ...args]);
    const fromAws = await run('metrics', ['--aws', '--bucket', 'artifacts', ...args]);
    expect(fromAws.err).toBe('');
    expect(JSON.parse(fromLocal.out)).toEqual(JSON.parse(fromAws.out));
  });

  it('lists in `history` what it counts, with the same rows as `history --aws`', async () => {
    const args = ['--json', '--limit', '3'];
    const fromLocal = await run('history', ['--state-dir', stateDir, ...args]);
    const fromAws = await run('history', ['--aws', '--bucket', 'artifacts', '--since', '2026-11-19', ...args]);
    const localRows = JSON.parse(fromLocal.out) as Record<string, unknown>[];
    expect(localRows.map((row) => row.executionName)).toEqual(['d6', 'f5', 'f4']);
    // the local rows are the AWS rows plus the run's end status
    expect(localRows.map(({ status: _status, ...row }) => row)).toEqual(JSON.parse(fromAws.out));
  });
});

describe('windows', () => {
  it.each([
    [undefined, undefined, '2026-10-23T10:00:00.000Z', '2026-11-22T10:00:00.000Z'],
    ['12h', undefined, '2026-11-21T22:00:00.000Z', '2026-11-22T10:00:00.000Z'],
    ['2026-11-01', '2026-11-02', '2026-11-01T00:00:00.000Z', '2026-11-02T23:59:59.999Z'],
    ['2026-11-01T06:00:00Z', '1d', '2026-11-01T06:00:00.000Z', '2026-11-21T10:00:00.000Z'],
  ])('--since %s --until %s', (since, until, from, to) => {
    const w = parseWindow(since, until, NOW);
    expect([w.since.toISOString(), w.until.toISOString()]).toEqual([from, to]);
  });

  it('rejects a window that ends before it starts', () => {
    expect(() => parseWindow('2026-11-05', '2026-11-01', NOW)).toThrow(
      '--since (2026-11-05T00:00:00.000Z) must be before',
    );
  });

  it('lists one prefix per UTC day touched', () => {
    expect(auditDayPrefixes(new Date('2026-12-31T23:00:00.000Z'), new Date('2027-01-01T00:30:00.000Z'))).toEqual([
      'audit/dt=2026-12-31/',
      'audit/dt=2027-01-01/',
    ]);
  });
});
