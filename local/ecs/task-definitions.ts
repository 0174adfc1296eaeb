/**
 * Task definitions of the local ECS: families and revisions (RegisterTaskDefinition's checks and defaults, lookup
 * by ARN, `family:revision` or `family`, deregistration) and the container a service's task runs.
 */
import type { LocalServiceSpec } from '../types.ts';
import { testRoute } from './alb.ts';
import { clientError, invalidParameter } from './errors.ts';
import { type CreateServiceInput, type Tag, type TaskDefinitionRecord, taskDefinitionArn } from './model.ts';

/** Normalized RegisterTaskDefinition input. */
export interface TaskDefinitionInput {
  family: string;
  body: Record<string, unknown>;
  tags: Tag[];
}

const FAMILY = /^[a-zA-Z0-9_-]{1,255}$/;

/** The task definitions of one account and region, kept in the engine's persisted state. */
export class TaskDefinitions {
  readonly #families: Record<string, TaskDefinitionRecord[]>;
  readonly #region: string;
  readonly #accountId: string;
  /** Called after every change (persist the state), with the new revision after a registration. */
  readonly #changed: (registered?: TaskDefinitionRecord) => void;

  constructor(
    families: Record<string, TaskDefinitionRecord[]>,
    where: { region: string; accountId: string },
    changed: (registered?: TaskDefinitionRecord) => void,
  ) {
    this.#families = families;
    this.#region = where.region;
    this.#accountId = where.accountId;
    this.#changed = changed;
  }

  /** Every revision of every family, by family. */
  get families(): Readonly<Record<string, readonly TaskDefinitionRecord[]>> {
    return this.#families;
  }

  /** Validates like ECS (ClientException) and registers the next revision of the family. */
  register(input: TaskDefinitionInput, now: number): TaskDefinitionRecord {
    const { family } = input;
    if (family === '') throw clientError('Family must not be empty.');
    if (!FAMILY.test(family)) {
      throw clientError(
        'Family contains invalid characters. Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.',
      );
    }
    const revisions = this.#families[family] ?? [];
    const containerDefinitions = normalizeContainers(input.body);
    this.#families[family] = revisions;
    const revision = revisions.length + 1;
    const record: TaskDefinitionRecord = {
      taskDefinitionArn: taskDefinitionArn(this.#region, this.#accountId, family, revision),
      family,
      revision,
      status: 'ACTIVE',
      registeredAt: now,
      body: { ...input.body, containerDefinitions },
      tags: input.tags,
    };
    revisions.push(record);
    this.#changed(record);
    return record;
  }

  /** By ARN, `family:revision`, or `family` (latest ACTIVE revision). */
  find(ref: string): TaskDefinitionRecord | undefined {
    let spec = ref;
    if (ref.startsWith('arn:')) {
      const match = /^arn:aws[a-z-]*:ecs:([^:]+):(\d+):task-definition\/(.+)$/.exec(ref);
      if (match === null || match[1] !== this.#region || match[2] !== this.#accountId || match[3] === undefined) {
        return undefined;
      }
      spec = match[3];
    }
    const colon = spec.lastIndexOf(':');
    if (colon < 0) {
      return this.#families[spec]?.filter((td) => td.status === 'ACTIVE').at(-1);
    }
    const family = spec.slice(0, colon);
    const revision = Number(spec.slice(colon + 1));
    if (!Number.isInteger(revision) || revision < 1) return undefined;
    return this.#families[family]?.[revision - 1];
  }

  /** DeregisterTaskDefinition: needs a revision (`family:revision` or ARN); INACTIVE from then on. */
  deregister(ref: string, now: number): TaskDefinitionRecord {
    const td = ref.includes(':') ? this.find(ref) : undefined;
    if (td === undefined) throw clientError('The specified task definition does not exist.');
    if (td.status === 'ACTIVE') {
      td.status = 'INACTIVE';
      td.deregisteredAt = now;
      this.#changed();
    }
    return td;
  }

  /** One a service may move to: it exists and is ACTIVE (InvalidParameterException otherwise). */
  usable(ref: string): TaskDefinitionRecord {
    const td = this.find(ref);
    if (td === undefined) throw invalidParameter(`TaskDefinition not found: ${ref}`);
    if (td.status !== 'ACTIVE') throw invalidParameter(`TaskDefinition is inactive: ${td.taskDefinitionArn}`);
    return td;
  }
}

/** RegisterTaskDefinition's container checks and defaults (ClientException for what ECS rejects). */
function normalizeContainers(body: Record<string, unknown>): Record<string, unknown>[] {
  const containers = body.containerDefinitions;
  if (!Array.isArray(containers) || containers.length === 0) {
    throw clientError('Container.containerDefinitions should not be null or empty.');
  }
  const names = new Set<string>();
  const networkMode = typeof body.networkMode === 'string' ? body.networkMode : 'bridge';
  const normalized = containers.map((raw) => {
    if (typeof raw !== 'object' || raw === null) throw clientError('Container definition must be an object.');
    const c = raw as Record<string, unknown>;
    if (typeof c.name !== 'string' || c.name === '') throw clientError('Container.name should not be null or empty.');
    if (typeof c.image !== 'string' || c.image.trim() === '') {
      throw clientError('Container.image should not be null or empty.');
    }
    if (names.has(c.name)) throw clientError(`Duplicate container name: ${c.name}.`);
    names.add(c.name);
    const env = c.environment ?? [];
    if (!Array.isArray(env) || env.some((e) => typeof (e as { name?: unknown }).name !== 'string')) {
      throw clientError(`Container.environment of ${c.name} must be a list of {name, value}.`);
    }
    const portMappings = Array.isArray(c.portMappings) ? (c.portMappings as Record<string, unknown>[]) : [];
    return {
      ...c,
      cpu: c.cpu ?? 0,
      essential: c.essential ?? true,
      portMappings: portMappings.map((pm) => ({
        ...pm,
        ...(pm.hostPort === undefined && (networkMode === 'awsvpc' || networkMode === 'host')
          ? { hostPort: pm.containerPort }
          : {}),
        protocol: pm.protocol ?? 'tcp',
      })),
      environment: env,
      mountPoints: c.mountPoints ?? [],
      volumesFrom: c.volumesFrom ?? [],
    };
  });
  if (!normalized.some((c) => c.essential === true)) {
    throw clientError('Task definition must contain at least one essential container.');
  }
  return normalized;
}

/** A container by name, or InvalidParameterException naming it. */
export function containerOf(td: TaskDefinitionRecord, name: string): Record<string, unknown> {
  const containers = td.body.containerDefinitions as Record<string, unknown>[];
  const container = containers.find((c) => c.name === name);
  if (container === undefined) {
    throw invalidParameter(`The container ${name} does not exist in the task definition.`);
  }
  return container;
}

/** The one container a local task runs: the load-balanced one, else the first essential one. */
export function serviceContainer(
  td: TaskDefinitionRecord,
  loadBalancedContainer: string | undefined,
): Record<string, unknown> | undefined {
  const containers = td.body.containerDefinitions as Record<string, unknown>[];
  if (loadBalancedContainer !== undefined) return containers.find((c) => c.name === loadBalancedContainer);
  return containers.find((c) => c.essential !== false) ?? containers[0];
}

/** The task definition a service from the config starts with (revision 1 of its family, when there is none yet). */
export function seedTaskDefinition(spec: LocalServiceSpec): TaskDefinitionInput {
  return {
    family: spec.taskDefinitionFamily,
    body: {
      containerDefinitions: [
        {
          name: spec.container,
          image: spec.image,
          essential: true,
          portMappings: [{ containerPort: 8080 }],
          environment: [],
        },
      ],
      ...(spec.executionRoleArn === undefined ? {} : { executionRoleArn: spec.executionRoleArn }),
      ...(spec.taskRoleArn === undefined ? {} : { taskRoleArn: spec.taskRoleArn }),
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
    },
    tags: [],
  };
}

/** The service a config entry describes, on task definition `taskDefinition`. */
export function seedService(cluster: string, spec: LocalServiceSpec, taskDefinition: string): CreateServiceInput {
  return {
    cluster,
    serviceName: spec.name,
    taskDefinition,
    desiredCount: spec.desiredCount,
    deploymentConfiguration: {
      minimumHealthyPercent: spec.minimumHealthyPercent,
      maximumPercent: spec.maximumPercent,
      deploymentCircuitBreaker: { ...spec.circuitBreaker },
    },
    loadBalancer: {
      containerName: spec.container,
      containerPort: 8080,
      port: spec.loadBalancerPort,
      healthCheckPath: spec.healthCheckPath,
      ...testRoute(spec),
    },
    tags: [],
  };
}
