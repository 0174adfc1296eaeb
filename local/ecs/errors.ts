/**
 * ECS-shaped errors, as {@link AwsError}s: the endpoint answers them as HTTP 400 (500 for ServerException) with
 * `{"__type": name, "message": ...}`, which the AWS SDK turns into an exception whose `name` is `name`
 * (ServiceNotFoundException, ClientException, ...).
 */
import { AwsError } from '../aws-json.ts';

export type EcsErrorName =
  | 'ClientException'
  | 'InvalidParameterException'
  | 'ClusterNotFoundException'
  | 'ServiceNotFoundException'
  | 'ServiceDeploymentNotFoundException'
  | 'ConflictException';

const ecsError = (name: EcsErrorName, message: string): AwsError => new AwsError(name, message);

export const clusterNotFound = (): AwsError => ecsError('ClusterNotFoundException', 'Cluster not found.');
export const serviceNotFound = (): AwsError => ecsError('ServiceNotFoundException', 'Service not found.');
export const clientError = (message: string): AwsError => ecsError('ClientException', message);
export const invalidParameter = (message: string): AwsError => ecsError('InvalidParameterException', message);
export const serviceDeploymentNotFound = (arn: string): AwsError =>
  ecsError('ServiceDeploymentNotFoundException', `The service deployment ${arn} does not exist.`);
export const conflict = (message: string): AwsError => ecsError('ConflictException', message);
