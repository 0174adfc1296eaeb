import type { ECSClient, Service } from '@aws-sdk/client-ecs';
import type { S3Client } from '@aws-sdk/client-s3';
import { containerImage, describeService, describeTaskDefinition, primaryDeployment } from './ecs.ts';
import { TargetNotFoundError } from './errors.ts';
import type { ImageRef } from './naming.ts';
import { DIGEST_TAG, REPOSITORY_TAG, splitImageRef, TAG_TAG } from './naming.ts';
import { isVerified } from './verified.ts';

/** Inspect's output (`$.current`): the AlreadyDeployed Choice state reads `alreadyRunning`. */
export interface Inspection {
  readonly alreadyRunning: boolean;
  readonly reason: string;
  readonly image: string;
  readonly taskDefinitionArn: string;
}

/**
 * Whether the image is already what the service runs, steady: the container's image is pinned to the same digest,
 * or the running revision was registered by rollgate for the same repository and tag (its `rollgate:*` tags), or it
 * names the same repository:tag; and the PRIMARY deployment is COMPLETED with every task running; and an execution
 * verified that revision in this service (see {@link unverifiedRevision}).
 */
export async function inspectService(params: {
  readonly ecs: ECSClient;
  readonly cluster: string;
  readonly service: string;
  readonly container: string;
  readonly image: ImageRef;
  /** The artifacts bucket, where the verified marks are. */
  readonly artifacts: { readonly s3: S3Client; readonly bucket: string };
  /** The target's `codeDeploy` section, if any: it must match the service's deployment controller. */
  readonly codeDeploy?: { readonly application: string; readonly deploymentGroup: string } | undefined;
}): Promise<Inspection> {
  const { ecs, cluster, service, container, image } = params;
  const svc = await describeService(ecs, cluster, service);
  checkController(svc, `${cluster}/${service}`, params.codeDeploy);
  const primary = primaryDeployment(svc);
  const arn = primary?.taskDefinition ?? svc.taskDefinition ?? '';
  const { taskDefinition, tags } = await describeTaskDefinition(ecs, arn);
  const running = containerImage(taskDefinition, container);
  const tag = (key: string) => tags.find((t) => t.key === key)?.value;
  const ref = splitImageRef(running);
  const sameRepository = ref.repository === image.repository;
  const sameImage =
    sameRepository &&
    ((image.digest !== undefined && (ref.digest === image.digest || tag(DIGEST_TAG) === image.digest)) ||
      (image.digest === undefined &&
        image.tag !== undefined &&
        ((ref.digest === undefined && ref.tag === image.tag) ||
          (tag(REPOSITORY_TAG) === image.repository && tag(TAG_TAG) === image.tag))));
  const steady =
    primary?.rolloutState === 'COMPLETED' &&
    (svc.deployments?.length ?? 0) === 1 &&
    (primary.runningCount ?? 0) >= (primary.desiredCount ?? 1);
  const unverified =
    sameImage && steady ? await unverifiedRevision(params.artifacts, { cluster, service, arn, running }) : undefined;
  const alreadyRunning = sameImage && steady && unverified === undefined;
  return {
    alreadyRunning,
    reason: alreadyRunning
      ? `ALREADY_DEPLOYED: ${cluster}/${service} already runs this image (${running}, ${primary?.runningCount} tasks, steady); start with "force": true to deploy it again`
      : (unverified ??
        (sameImage
          ? `the image runs but the service is not steady (${primary?.rolloutState ?? 'no primary deployment'}): deploying`
          : `the service runs ${running}: deploying`)),
    image: running,
    taskDefinitionArn: arn,
  };
}

/**
 * The guard against counting an unverified revision as deployed: the reason to deploy again when no execution
 * verified the running revision in this service (an execution interrupted or stopped after Deploy, a revision
 * rollgate never deployed), or undefined when one did (its verified mark, written when it recorded DEPLOYED).
 */
async function unverifiedRevision(
  artifacts: { readonly s3: S3Client; readonly bucket: string },
  where: { readonly cluster: string; readonly service: string; readonly arn: string; readonly running: string },
): Promise<string | undefined> {
  const { cluster, service, arn, running } = where;
  if (await isVerified(artifacts, { cluster, service, taskDefinitionArn: arn })) return undefined;
  const revision = arn.split('/').pop() ?? arn;
  return `the service runs this image (${running}) but no rollgate execution verified its revision ${revision}: deploying to verify it`;
}

/**
 * Refuses (TargetNotFoundError, before anything is touched) a target that does not fit the service's deployment
 * controller, saying what to change: a CODE_DEPLOY service needs the target's `codeDeploy` (ECS refuses UpdateService
 * with a new task definition for it), an ECS one must not have it; an EXTERNAL one rollgate cannot deploy.
 */
export function checkController(
  svc: Service,
  where: string,
  codeDeploy: { readonly application: string; readonly deploymentGroup: string } | undefined,
): void {
  const type = svc.deploymentController?.type ?? 'ECS';
  if (type === 'CODE_DEPLOY' && !codeDeploy) {
    throw new TargetNotFoundError(
      `${where} uses the CODE_DEPLOY deployment controller, so ECS refuses UpdateService with a new task definition: add codeDeploy: { application, deploymentGroup } (the service's CodeDeploy application and deployment group) to the target`,
    );
  }
  if (type === 'ECS' && codeDeploy) {
    throw new TargetNotFoundError(
      `${where} uses the ECS deployment controller, not CODE_DEPLOY: remove codeDeploy (${codeDeploy.application}/${codeDeploy.deploymentGroup}) from the target (strategy blue-green, canary or linear gives ECS's own progressive deployments)`,
    );
  }
  if (type === 'EXTERNAL') {
    throw new TargetNotFoundError(
      `${where} uses the EXTERNAL deployment controller: rollgate deploys services on the ECS or CODE_DEPLOY controller only`,
    );
  }
}
