/**
 * ECS-shaped errors. The endpoint answers them as HTTP 400 with `{"__type": name, "message": ...}`, which the AWS SDK
 * turns into an exception whose `name` is `name` (ServiceNotFoundException, ClientException, ...).
 */
export type EcsErrorName =
  | 'ClientException'
  | 'InvalidParameterException'
  | 'ClusterNotFoundException'
  | 'ServiceNotFoundException'
  | 'ServiceNotActiveException'
  | 'ServerException'
  | 'UnknownOperationException'
  | 'SerializationException';

export class EcsError extends Error {
  override readonly name: EcsErrorName;
  /** 400 for client faults, 500 for ServerException. */
  readonly status: number;

  constructor(name: EcsErrorName, message: string) {
    super(message);
    this.name = name;
    this.status = name === 'ServerException' ? 500 : 400;
  }
}

export const clusterNotFound = (): EcsError => new EcsError('ClusterNotFoundException', 'Cluster not found.');
export const serviceNotFound = (): EcsError => new EcsError('ServiceNotFoundException', 'Service not found.');
export const clientError = (message: string): EcsError => new EcsError('ClientException', message);
export const invalidParameter = (message: string): EcsError => new EcsError('InvalidParameterException', message);
