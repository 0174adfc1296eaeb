import middy from '@middy/core';
import type { LoadSpec } from '../config/schema.ts';
import { type LoadPlan, planLoad } from '../core/load-test.ts';

export interface PlanLoadInput {
  readonly load: LoadSpec;
  readonly cluster: string;
  readonly service: string;
  readonly executionName: string;
}

export const handler = middy<PlanLoadInput, LoadPlan>().handler(async (input) => planLoad(input));
