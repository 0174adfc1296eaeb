import { z } from 'zod';
import { loadSchema } from '../config/schema.ts';
import { gateRouteSchema } from '../core/gate-route.ts';
import { planLoad } from '../core/load-test.ts';
import { lambda } from '../runtime/handler.ts';

const planLoadInput = z.object({
  load: loadSchema,
  cluster: z.string().min(1),
  service: z.string().min(1),
  executionName: z.string().min(1),
  /** PlanGateLoad: the gate's route (test listener, header). */
  route: gateRouteSchema.exactOptional(),
  /** PlanGateLoad: the gate's stage (a paired judge pairs the test stage's header route with production). */
  stage: z.enum(['test', 'production']).exactOptional(),
  /** PlanGateLoad: the gate's id (its report goes under the execution's `gates/<id>/`). */
  gateId: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'a gate id such as "POST_TEST_TRAFFIC_SHIFT-100"')
    .exactOptional(),
});

export const handler = lambda({ name: 'PlanLoad', schema: planLoadInput }, (input) => planLoad(input));
