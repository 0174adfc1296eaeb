import middy from '@middy/core';
import { type Inspection, inspectService } from '../core/inspect.ts';
import type { Job } from '../core/normalize.ts';
import { ecs } from '../runtime/clients.ts';

export interface InspectInput {
  readonly cluster: string;
  readonly service: string;
  readonly container: string;
  readonly image: Job['image'];
}

export const handler = middy<InspectInput, Inspection>().handler(async (input) => inspectService({ ecs, ...input }));
