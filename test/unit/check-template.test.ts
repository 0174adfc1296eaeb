import { describe, expect, it } from 'vitest';
import { arnMatchesFormat, checkIam, checkResources, type Template } from '../../scripts/check-template.ts';

/**
 * scripts/check-template.ts against small templates: what a real template gets right passes, and each kind of typo
 * (action, service, resource type, ARN shape, condition key, property, attribute, DependsOn) is reported by name.
 * The packaged template itself is checked in test/package.test.ts.
 */

/** `arn:%Partition:s3:::%BucketName` -> IAM's `arn:${Partition}:s3:::${BucketName}` (kept out of string literals). */
const iamFormat = (format: string) => format.replace(/%(\w+)/g, (_, name: string) => `${'$'}{${name}}`);

const bucketArn = { 'Fn::GetAtt': ['Bucket', 'Arn'] };
const inBucket = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn, `/${prefix}/*`]] });
/** An ARN in the stack's own partition, region and account, as serverless.yml writes them. */
const pseudo = (name: string) => ({ Ref: `AWS::${name}` });
const inStack = (resource: string) => ({
  'Fn::Join': ['', ['arn:', pseudo('Partition'), ':ecs:', pseudo('Region'), ':', pseudo('AccountId'), `:${resource}`]],
});

function templateWith(statements: unknown[], extra: Record<string, unknown> = {}): Template {
  return {
    Resources: {
      Bucket: { Type: 'AWS::S3::Bucket', Properties: {} },
      Table: {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        },
      },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] },
            ],
          },
          Policies: [{ PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
        },
      },
      ...extra,
    } as Template['Resources'],
  };
}

const GOOD = [
  { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: inBucket('backups') },
  { Effect: 'Allow', Action: 's3:ListBucket', Resource: bucketArn },
  { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: { 'Fn::GetAtt': ['Table', 'Arn'] } },
  { Effect: 'Allow', Action: 'ecs:DescribeTaskDefinition', Resource: '*' },
  { Effect: 'Allow', Action: 'ecs:UpdateService', Resource: [inStack('service/prod/web')] },
  {
    Effect: 'Allow',
    Action: 'ecs:TagResource',
    Resource: inStack('task-definition/*'),
    Condition: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
  },
  {
    Effect: 'Allow',
    Action: 'iam:PassRole',
    Resource: ['arn:aws:iam::123456789012:role/web-task'],
    Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
  },
  {
    Effect: 'Allow',
    Action: 'ecr:DescribeImages',
    Resource: ['arn:aws:ecr:us-east-1:123456789012:repository/team/web'],
  },
  {
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      { 'Fn::Sub': 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/x:*:*' },
    ],
  },
  { Effect: 'Deny', Action: 'iam:PassRole', Resource: '*' },
];

describe('checkIam', () => {
  it('accepts statements whose actions exist and accept their resources and condition keys', async () => {
    expect(await checkIam(templateWith(GOOD))).toEqual([]);
  });

  it.each([
    [
      'a misspelt action',
      { Effect: 'Allow', Action: 'ecs:UpdateServce', Resource: '*' },
      /ecs:UpdateServce: no such action/,
    ],
    [
      'an unknown service',
      { Effect: 'Allow', Action: 'ecss:UpdateService', Resource: '*' },
      /no IAM service prefix "ecss"/,
    ],
    [
      'an object action on the bucket ARN',
      { Effect: 'Allow', Action: 's3:GetObject', Resource: bucketArn },
      /s3:GetObject does not act on arn:aws:s3:::xBucketName: it accepts .*object \(arn:\$\{Partition\}:s3:::/,
    ],
    [
      'a bucket action on object ARNs',
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: inBucket('audit') },
      /s3:ListBucket does not act on .*\/audit\/\*/,
    ],
    [
      'a table action on an ECS ARN',
      { Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: inStack('service/prod/web') },
      /dynamodb:PutItem does not act on arn:aws:ecs:/,
    ],
    [
      '"*" for an action that can be scoped',
      { Effect: 'Allow', Action: 'ecs:UpdateService', Resource: '*' },
      /ecs:UpdateService on "\*": it supports resource-level permissions \(service\)/,
    ],
    [
      'an ARN for an action IAM accepts only "*" for',
      { Effect: 'Allow', Action: 'ecs:DescribeTaskDefinition', Resource: inStack('task-definition/web:1') },
      /ecs:DescribeTaskDefinition supports no resource-level permissions/,
    ],
    [
      'a misspelt condition key',
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: 'arn:aws:iam::123456789012:role/x',
        Condition: { StringEquals: { 'iam:PassedToServce': 'ecs-tasks.amazonaws.com' } },
      },
      /condition key iam:PassedToServce: no such condition key/,
    ],
    [
      'a condition key of another action',
      {
        Effect: 'Allow',
        Action: 'ecs:UpdateService',
        Resource: inStack('service/prod/web'),
        Condition: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
      },
      /condition key ecs:CreateAction: exists in ecs but does not apply/,
    ],
    [
      'a resource that is not an ARN the checker can build',
      { Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::GetAtt': ['Nowhere', 'Arn'] } },
      /cannot tell the ARN of Resource/,
    ],
    ['an Allow of every action', { Effect: 'Allow', Action: 'ecs:*', Resource: '*' }, /wildcard actions/],
  ])('reports %s', async (_what, statement, message) => {
    const problems = await checkIam(templateWith([...GOOD, statement]));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });
});

describe('checkResources', () => {
  it('accepts resources whose types and properties exist', () => {
    expect(checkResources(templateWith(GOOD))).toEqual([]);
  });

  const table = (properties: Record<string, unknown>, type = 'AWS::DynamoDB::Table') => ({
    Other: { Type: type, Properties: properties },
  });
  const base = {
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
  };

  it.each([
    [
      'a misspelt property',
      table({ ...base, BillingMod: 'PAY_PER_REQUEST' }),
      /Other \(AWS::DynamoDB::Table\)\.BillingMod: no such property/,
    ],
    [
      'a misspelt nested property',
      table({ ...base, TimeToLiveSpecification: { AttributeNam: 'expiresAt', Enabled: true } }),
      /TimeToLiveSpecification\.AttributeNam: no such property/,
    ],
    [
      'a misspelt property in a list',
      table({ ...base, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH', KeyTyp: 'HASH' }] }),
      /KeySchema\[0\]\.KeyTyp: no such property/,
    ],
    [
      'a missing required property',
      table({ AttributeDefinitions: base.AttributeDefinitions }),
      /KeySchema: required property missing/,
    ],
    ['an unknown resource type', table(base, 'AWS::DynamoDB::Tabel'), /no resource type AWS::DynamoDB::Tabel/],
    [
      'an attribute the type does not have',
      {
        Other: {
          Type: 'AWS::SQS::Queue',
          Properties: { RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Table', 'Arnn'] } } },
        },
      },
      /Fn::GetAtt Table\.Arnn: AWS::DynamoDB::Table has no attribute Arnn/,
    ],
    [
      'a GetAtt of a resource that is not there',
      {
        Other: {
          Type: 'AWS::SQS::Queue',
          Properties: { RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Tabel', 'Arn'] } } },
        },
      },
      /Fn::GetAtt names Tabel, which is not a resource/,
    ],
    [
      'a DependsOn on nothing',
      { Other: { Type: 'AWS::SQS::Queue', Properties: {}, DependsOn: ['Tabel'] } },
      /DependsOn Tabel/,
    ],
  ])('reports %s', (_what, extra, message) => {
    const problems = checkResources(templateWith(GOOD, extra));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });
});

describe('arnMatchesFormat', () => {
  it.each([
    ['arn:aws:s3:::bucket/backups/*', 'arn:%Partition:s3:::%BucketName/%ObjectName', true],
    ['arn:aws:s3:::bucket/backups/*', 'arn:%Partition:s3:::%BucketName', false],
    ['arn:aws:s3:::bucket', 'arn:%Partition:s3:::%BucketName/%ObjectName', false],
    ['arn:aws:ecs:us-east-1:1:task-definition/*', 'arn:%Partition:ecs:%Region:%Account:task-definition/%F:%R', true],
    [
      'arn:aws:ecs:us-east-1:1:service/prod/web',
      'arn:%Partition:ecs:%Region:%Account:service/%ClusterName/%ServiceName',
      true,
    ],
    [
      'arn:aws:ecs:us-east-1:1:service/web',
      'arn:%Partition:ecs:%Region:%Account:service/%ClusterName/%ServiceName',
      false,
    ],
    [
      'arn:aws:ecr:us-east-1:1:repository/team/web',
      'arn:%Partition:ecr:%Region:%Account:repository/%RepositoryName',
      true,
    ],
    [
      'arn:aws:dynamodb:us-east-1:1:table/t/stream/*',
      'arn:%Partition:dynamodb:%Region:%Account:table/%TableName',
      false,
    ],
    ['arn:aws:iam::1:role/a/b', 'arn:%Partition:iam::%Account:role/%RoleNameWithPath', true],
    ['arn:aws:sqs:us-east-1:1:q', 'arn:%Partition:sns:%Region:%Account:%TopicName', false],
  ])('%s against %s: %s', (arn, format, expected) => {
    expect(arnMatchesFormat(arn, iamFormat(format))).toBe(expected);
  });
});
