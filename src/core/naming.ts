/**
 * Every S3 key, lock table key, task definition tag, resource name and image reference rollgate builds or parses, in
 * one place.
 */

// ---------------------------------------------------------------------------------------------------------------
// S3 keys

/** `backups/<cluster>/<service>/<execution>.json`: the task definition that ran before this execution. */
export function backupKey(cluster: string, service: string, executionName: string): string {
  return `backups/${cluster}/${service}/${executionName}.json`;
}

/**
 * `audit/dt=YYYY-MM-DD/<execution>.json`: one record per execution, partitioned by the UTC day it started so that
 * Athena (Hive-style partition `dt`) scans only the days asked for.
 */
export function auditKey(startedAt: string, executionName: string): string {
  return `${auditDayPrefix(startedAt)}${executionName}.json`;
}

/**
 * `verified/<cluster>/<service>/<family>/<revision>.json`: the mark an execution that recorded DEPLOYED leaves for
 * its revision (`arn:...:task-definition/<family>:<revision>`) in that service (src/core/verified.ts).
 */
export function verifiedKey(cluster: string, service: string, taskDefinitionArn: string): string {
  const [family = '', revision = ''] = (taskDefinitionArn.split('/').pop() ?? '').split(':');
  return `verified/${cluster}/${service}/${family}/${revision}.json`;
}

/** `audit/dt=YYYY-MM-DD/`: the partition of the UTC day of an ISO time (or an ISO date). */
export function auditDayPrefix(isoTime: string): string {
  return `audit/dt=${isoTime.slice(0, 10)}/`;
}

/** `reports/<cluster>/<service>/<execution>/`: the load test report files. */
export function reportPrefix(cluster: string, service: string, executionName: string): string {
  return `reports/${cluster}/${service}/${executionName}/`;
}

/** The files of a load test report under its prefix (AggregateLoad writes them; the local runner copies them). */
export function reportKeys(prefix: string): { reportKey: string; htmlKey: string; summaryKey: string } {
  return { reportKey: `${prefix}report.json`, htmlKey: `${prefix}report.html`, summaryKey: `${prefix}summary.md` };
}

/** The report prefix of a report key (`reports/.../report.json` -> `reports/.../`). */
export function reportPrefixOf(reportKey: string): string {
  return reportKey.slice(0, reportKey.lastIndexOf('/') + 1);
}

/**
 * `load-results/<execution>/`: where each load generator of an execution writes its result (`<workerIndex>.json`).
 * Keyed by the execution name alone (at most 80 characters) so that the GenerateLoad Map state, which holds one key per
 * worker, stays ~100 bytes a worker: 1000 workers ~100 KB of the 256 KB state payload.
 */
export function loadResultPrefix(executionName: string): string {
  return `load-results/${executionName}/`;
}

/**
 * `gates/<execution>/`: the bridge between ECS's lifecycle hook and the execution (src/core/gates.ts): the task token
 * the execution is parked on, each gate ECS reached, each verdict, and the mark a rollback leaves.
 */
export function gatePrefix(executionName: string): string {
  return `gates/${executionName}/`;
}

/** `gates/<execution>/token.json`: the task token of the AwaitGate state the execution waits in (ParkGate writes it). */
export function gateTokenKey(executionName: string): string {
  return `${gatePrefix(executionName)}token.json`;
}

/** `gates/<execution>/arrivals/`: one object per gate ECS reached (the hook writes them). */
export function gateArrivalPrefix(executionName: string): string {
  return `${gatePrefix(executionName)}arrivals/`;
}

/** `gates/<execution>/arrivals/<gate id>.json`. */
export function gateArrivalKey(executionName: string, gateId: string): string {
  return `${gateArrivalPrefix(executionName)}${gateId}.json`;
}

/** `gates/<execution>/verdicts/<gate id>.json`: PASS (JudgeGate) or FAIL. */
export function gateVerdictKey(executionName: string, gateId: string): string {
  return `${gatePrefix(executionName)}verdicts/${gateId}.json`;
}

/** `gates/<execution>/codedeploy.json`: the CodeDeploy deployment the execution created (Deploy links it). */
export function gateCodeDeployKey(executionName: string): string {
  return `${gatePrefix(executionName)}codedeploy.json`;
}

/** `gates/<execution>/closed.json`: the execution rolls back; every gate still open fails. */
export function gatesClosedKey(executionName: string): string {
  return `${gatePrefix(executionName)}closed.json`;
}

/** A gate's id: the lifecycle stage and the new version's share there (`PRODUCTION_TRAFFIC_SHIFT-10`). */
export function gateId(lifecycleStage: string, percent: number): string {
  return `${lifecycleStage}-${percent}`;
}

/** The stage and share of a gate id (undefined for anything else); CodeDeploy's stages are its event names. */
export function parseGateId(id: string): { lifecycleStage: string; percent: number } | undefined {
  const m = /^([A-Za-z_]+)-(\d+(?:\.\d+)?)$/.exec(id);
  return m?.[1] && m[2] ? { lifecycleStage: m[1], percent: Number(m[2]) } : undefined;
}

/**
 * `gates/codedeploy-deployments/<deployment id>/`: a CodeDeploy deployment's link to its execution (Deploy writes it
 * after CreateDeployment) and the hooks CodeDeploy invoked (each hook Lambda writes its own), so that a hook that
 * comes before the link is forwarded by Deploy (src/core/codedeploy-hook.ts).
 */
export function codeDeployPrefix(deploymentId: string): string {
  return `gates/codedeploy-deployments/${deploymentId}/`;
}

/** `gates/codedeploy-deployments/<deployment id>/execution.json`: the execution that created the deployment. */
export function codeDeployLinkKey(deploymentId: string): string {
  return `${codeDeployPrefix(deploymentId)}execution.json`;
}

/** `gates/codedeploy-deployments/<deployment id>/hooks/`: one object per lifecycle event hook CodeDeploy invoked. */
export function codeDeployHookPrefix(deploymentId: string): string {
  return `${codeDeployPrefix(deploymentId)}hooks/`;
}

/** `gates/codedeploy-deployments/<deployment id>/hooks/<event>.json`. */
export function codeDeployHookKey(deploymentId: string, lifecycleEvent: string): string {
  return `${codeDeployHookPrefix(deploymentId)}${lifecycleEvent}.json`;
}

/** The environment variable naming the hook Lambda of a CodeDeploy lifecycle event (`CODEDEPLOY_HOOK_AFTER_ALLOW_TEST_TRAFFIC`). */
export function codeDeployHookEnv(event: string): string {
  return `CODEDEPLOY_HOOK_${event.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/**
 * The description rollgate gives its CodeDeploy deployments, by which a retry finds the one of its execution:
 * `rollgate execution <name>: <image>` (Deploy), `rollgate rollback <name>: <image>` (Rollback's redeploy of the backup).
 */
export function codeDeployDescription(kind: 'execution' | 'rollback', executionName: string, image: string): string {
  return `rollgate ${kind} ${executionName}: ${image}`.slice(0, 1000);
}

/** The execution named in a deployment's description of that kind (undefined for any other deployment). */
export function executionOfDescription(
  description: string | undefined,
  kind: 'execution' | 'rollback',
): string | undefined {
  const m = /^rollgate (execution|rollback) (\S{1,80}): /.exec(description ?? '');
  return m?.[1] === kind ? m[2] : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The lock table (src/core/lock.ts): partition key `pk`, sort key `sk`

/** `service#<cluster>/<service>`: the service's lock (sk `lock`) and its waiters (sk `wait#...`). */
export function serviceLockPk(cluster: string, service: string): string {
  return `service#${cluster}/${service}`;
}

/** The `cluster/service` of a `service#<cluster>/<service>` key. */
export function serviceOfLockPk(pk: string): string {
  return pk.replace(/^service#/, '');
}

/** `wait#<startedAt>#<execution>`: an execution waiting for the service's lock (sorted by start time). */
export function waiterSk(startedAt: string, executionName: string): string {
  return `wait#${startedAt}#${executionName}`;
}

export const WAITER_SK_PREFIX = 'wait#';
export const LOCK_SK = 'lock';

/** `execution#<name>`: the service an execution waits for or holds (sk `lock`). */
export function executionLockPk(executionName: string): string {
  return `execution#${executionName}`;
}

/** `push#<repository>:<tag>@<digest>` / `seen`: a push already handled (duplicate deliveries are ignored). */
export function pushSeenPk(push: {
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
}): string {
  return `push#${push.repository}:${push.tag}@${push.digest}`;
}

export const PUSH_SEEN_SK = 'seen';

/** `cluster/service` (the lock's and `--service`'s form) split in two; undefined when it is not of that form. */
export function splitServiceKey(key: string): { cluster: string; service: string } | undefined {
  const slash = key.indexOf('/');
  if (slash <= 0 || slash === key.length - 1) return undefined;
  return { cluster: key.slice(0, slash), service: key.slice(slash + 1) };
}

// ---------------------------------------------------------------------------------------------------------------
// Task definition tags Register sets (Inspect and the status-change handler read them)

/** The execution that registered the revision. */
export const EXECUTION_TAG = 'rollgate:execution';
export const REPOSITORY_TAG = 'rollgate:repository';
export const TAG_TAG = 'rollgate:tag';
export const DIGEST_TAG = 'rollgate:digest';
/** Every rollgate tag starts so; Register drops them from the revision it copies. */
export const TAG_PREFIX = 'rollgate:';

// ---------------------------------------------------------------------------------------------------------------
// Resource names

/** The deploy state machine of a stage (serverless.yml names it `rollgate-deploy-${sls:stage}`). */
export function stateMachineName(stage: string): string {
  return `rollgate-deploy-${stage}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Image references

/** The image reference parts rollgate works with. */
export interface ImageRef {
  readonly repository: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
}

/** `repo:tag@sha256:..` reads worst; show `repo:tag (sha256:abcdef012345)` in tables and messages. */
export function displayImage(image: ImageRef): string {
  const short = image.digest ? image.digest.slice(0, 19) : undefined;
  if (image.tag && short) return `${image.repository}:${image.tag} (${short})`;
  if (image.tag) return `${image.repository}:${image.tag}`;
  return `${image.repository}@${image.digest ?? '?'}`;
}

/** An image reference split into its parts: `[host/]repository[:tag][@digest]`. */
export interface ParsedImageRef extends ImageRef {
  /** The registry host, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com`; absent for `demo-app:v1`. */
  readonly registry?: string;
}

/**
 * ECR's own rules, the same for the push event and the manual input (Amazon ECR API reference; Docker's reference
 * grammar for tags). ECR computes image digests as SHA-256 of the manifest: `sha256:` and 64 lowercase hex, always.
 * (The AWS documentation's sample push event has a 60-hex digest: ECR never sends one, and rollgate refuses it.)
 */
export const ECR_DIGEST = /^sha256:[a-f0-9]{64}$/;
/** A tag: 1-128 of letters, digits, `_`, `.` and `-`, not starting with `.` or `-`. */
export const ECR_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** A repository name: 2-256 characters, lowercase path components separated by `/`, each joined by `.`, `_`, `-`. */
export const ECR_REPOSITORY = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** Whether a text is an image digest: `sha256:` and 64 hex digits. */
export function isDigest(text: string): boolean {
  return ECR_DIGEST.test(text);
}

/**
 * Splits an image reference the way Docker does: the first path component is a registry host when it contains a `.`
 * or a `:` or is `localhost`; then the repository, `:tag` and `@digest`. Structure only, no validation (what runs in
 * a task definition is whatever was registered); `parseImageRef` validates. The one image reference parser.
 */
export function splitImageRef(uri: string): ParsedImageRef {
  let rest = uri.trim();
  let registry: string | undefined;
  const slash = rest.indexOf('/');
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return {
    repository: rest,
    ...(registry === undefined ? {} : { registry }),
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

/**
 * An image reference split (`splitImageRef`) and checked: a lower-case repository path, a tag of at most 128
 * characters, a `sha256:` digest of 64 hex digits. Undefined when the text is not a valid image reference.
 */
export function parseImageRef(uri: string): ParsedImageRef | undefined {
  if (uri.trim() === '' || /\s/.test(uri.trim())) return undefined;
  const ref = splitImageRef(uri);
  if (ref.digest !== undefined && !ECR_DIGEST.test(ref.digest)) return undefined;
  if (ref.tag !== undefined && !ECR_TAG.test(ref.tag)) return undefined;
  return ECR_REPOSITORY.test(ref.repository) ? ref : undefined;
}

/** A short form of an image reference for messages: `host/team/web@sha256:0123456789ab...` -> `team/web@sha256:0123456789ab`. */
export function shortImage(image: string): string {
  const ref = splitImageRef(image);
  return `${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest.slice(0, 19)}` : ''}`;
}

/** The registry host of an image reference: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1` -> that host; `web:1` -> undefined. */
export function registryHost(image: string): string | undefined {
  return splitImageRef(image).registry;
}

/** The ECR registry host of an account and region. */
export function ecrRegistry(account: string, region: string): string {
  return `${account}.dkr.ecr.${region}.amazonaws.com`;
}

/**
 * The image to deploy: pinned by digest when known (what runs is exactly what was pushed), else by tag.
 * `registry` is the host to use (from the push event), else the host of the image running now.
 */
export function imageUri(image: ImageRef, registry: string | undefined): string {
  const ref = image.digest ? `@${image.digest}` : `:${image.tag ?? 'latest'}`;
  return `${registry ? `${registry}/` : ''}${image.repository}${ref}`;
}

/** The tag of an image reference (`host/repo:tag` -> `tag`), or undefined when it is pinned by digest. */
export function tagOf(image: string): string | undefined {
  const ref = splitImageRef(image);
  return ref.digest ? undefined : ref.tag;
}

/** Glob match for tags: `*` any run of characters, `?` exactly one; everything else literal. */
export function matchesGlob(value: string, glob: string): boolean {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`).test(value);
}

/**
 * A readable, unique Step Functions execution name: `<repository>-<tag>-<digest8>-<yyyymmddThhmmssZ>-<rand4>`,
 * restricted to the characters and 80-character length Step Functions allows.
 */
export function executionName(image: ImageRef, at: Date, random: () => number = Math.random): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const digest = image.digest ? image.digest.replace(/^sha256:/, '').slice(0, 8) : undefined;
  const suffix = Math.floor(random() * 0x10000)
    .toString(16)
    .padStart(4, '0');
  const parts = [image.repository.replace(/\//g, '.'), image.tag, digest].filter((p): p is string => Boolean(p));
  const head = parts.join('-').replace(/[^A-Za-z0-9_.-]/g, '_');
  const tail = `-${stamp}-${suffix}`;
  return `${head.slice(0, 80 - tail.length)}${tail}`;
}
