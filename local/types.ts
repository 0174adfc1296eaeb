/**
 * The local cloud's section of the rollgate config, as the config schema produces it.
 * The ECS endpoint (local/ecs), the image registry (local/registry.ts) and the load balancers (local/lb.ts) read it.
 */

/** How to start a task of a local "image": a repository name maps to one command; the tag is passed as IMAGE_TAG. */
export interface LocalImageSpec {
  /** argv; run with cwd = the repository root. A leading `node` is replaced by the running Node binary. */
  command: string[];
}

/** One ECS service of the local cloud, created on a fresh state as if it had been deployed long before. */
export interface LocalServiceSpec {
  name: string;
  taskDefinitionFamily: string;
  /** The container (in the task definition) the load balancer routes to; the one container the local tasks run. */
  container: string;
  /** Initial image, e.g. `demo-app:v1`. */
  image: string;
  desiredCount: number;
  /** Fixed port of this service's load balancer on 127.0.0.1, e.g. 18080. */
  loadBalancerPort: number;
  /** The load balancer's target health check path, e.g. `/health`. */
  healthCheckPath: string;
  minimumHealthyPercent: number;
  maximumPercent: number;
  circuitBreaker: { enable: boolean; rollback: boolean };
  executionRoleArn?: string;
  taskRoleArn?: string;
  /** Port of the load balancer's test listener on 127.0.0.1 (0: a free one); absent: no test listener rule. */
  testListenerPort?: number;
  /** A rule on the production listener sending requests with this header where test traffic goes. */
  testHeader?: { name: string; value: string };
  /** CODE_DEPLOY: the local ECS refuses UpdateService with a new task definition; the local CodeDeploy deploys it. */
  deploymentController?: 'ECS' | 'CODE_DEPLOY';
  /** A CODE_DEPLOY service's CodeDeploy application and deployment group (the local CodeDeploy creates them). */
  codeDeploy?: { application: string; deploymentGroup: string; terminationWaitMinutes: number } | undefined;
}

export interface LocalCloudSpec {
  region: string;
  accountId: string;
  /** Repository name (e.g. `demo-app`) -> how to start it. */
  images: Record<string, LocalImageSpec>;
  clusters: { name: string; services: LocalServiceSpec[] }[];
  /** How long a "minute" of bake time lasts here, in ms (60000 on AWS). Default 1000. */
  minuteMs?: number;
}
