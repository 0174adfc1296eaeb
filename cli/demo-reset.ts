/**
 * The demo starts every local service from its initial version (the config's `local.clusters[].services[].image`),
 * whatever an earlier demo or `rollgate run` left it on, so that `npm start` can be run again and again. It does so
 * as an operator would on AWS: through the ECS API of the local cloud (a new revision of the task definition with the
 * initial image, an UpdateService, a wait until the service is steady). History (S3) is kept.
 */
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import type { LocalCloudSpec } from '../local/types.ts';
import { shortImage } from '../src/core/naming.ts';

/** How long a reset may take before the demo gives up on it (a rolling update of the demo's tasks takes ~2-4 s). */
const STEADY_TIMEOUT_MS = 60_000;

/** An ECS client on the local cloud's endpoint. */
export function localEcsClient(endpoint: string, region: string): ECSClient {
  return new ECSClient({
    endpoint,
    region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

/**
 * Puts every service of `spec` back on its initial image through `ecs`; the services it changed, as
 * `cluster/service: image -> image`.
 */
export async function resetServices(
  ecs: ECSClient,
  spec: Pick<LocalCloudSpec, 'clusters'>,
  log: (line: string) => void,
): Promise<string[]> {
  const changed: string[] = [];
  for (const cluster of spec.clusters) {
    for (const svc of cluster.services) {
      const described = await ecs.send(new DescribeServicesCommand({ cluster: cluster.name, services: [svc.name] }));
      const current = described.services?.[0]?.taskDefinition;
      if (current === undefined) continue;
      const { taskDefinition: td } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: current }));
      const container = td?.containerDefinitions?.find((c) => c.name === svc.container);
      // the very image the service was created with (local/ecs seeds it from the config as written)
      const image = svc.image;
      if (td === undefined || container?.image === undefined || container.image === image) continue;
      const from = shortImage(container.image);
      const input: RegisterTaskDefinitionCommandInput = {
        family: td.family,
        containerDefinitions: (td.containerDefinitions ?? []).map((c) =>
          c.name === svc.container ? { ...c, image } : c,
        ),
        ...(td.networkMode ? { networkMode: td.networkMode } : {}),
        ...(td.requiresCompatibilities ? { requiresCompatibilities: td.requiresCompatibilities } : {}),
        ...(td.cpu ? { cpu: td.cpu } : {}),
        ...(td.memory ? { memory: td.memory } : {}),
        ...(td.executionRoleArn ? { executionRoleArn: td.executionRoleArn } : {}),
        ...(td.taskRoleArn ? { taskRoleArn: td.taskRoleArn } : {}),
      };
      const registered = await ecs.send(new RegisterTaskDefinitionCommand(input));
      const arn = registered.taskDefinition?.taskDefinitionArn ?? '';
      log(`reset ${cluster.name}/${svc.name}: ${from} -> ${image}`);
      // A plain rolling update, without the lifecycle hooks a progressive deploy left on the service.
      await ecs.send(
        new UpdateServiceCommand({
          cluster: cluster.name,
          service: svc.name,
          taskDefinition: arn,
          deploymentConfiguration: { strategy: 'ROLLING', lifecycleHooks: [] },
        }),
      );
      await waitSteady(ecs, cluster.name, svc.name, arn);
      changed.push(`${cluster.name}/${svc.name}: ${from} -> ${image}`);
    }
  }
  return changed;
}

async function waitSteady(ecs: ECSClient, cluster: string, service: string, taskDefinition: string): Promise<void> {
  const deadline = Date.now() + STEADY_TIMEOUT_MS;
  for (;;) {
    const { services } = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
    const deployments = services?.[0]?.deployments ?? [];
    const primary = deployments.find((d) => d.status === 'PRIMARY');
    if (
      deployments.length === 1 &&
      primary?.taskDefinition === taskDefinition &&
      primary.rolloutState === 'COMPLETED'
    ) {
      return;
    }
    if (primary?.rolloutState === 'FAILED' || Date.now() > deadline) {
      throw new Error(
        `cannot put ${cluster}/${service} back on its initial version (${primary?.rolloutState ?? 'no deployment'}: ` +
          `${primary?.rolloutStateReason ?? 'not steady in time'}); run \`rollgate reset\` and try again`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
