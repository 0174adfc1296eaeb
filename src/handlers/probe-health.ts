import { z } from 'zod';
import { healthSchema } from '../config/schema.ts';
import { gateRouteSchema, routedUrl } from '../core/gate-route.ts';
import { tagOf } from '../core/naming.ts';
import { probeHealth } from '../core/probe-health.ts';
import { lambda } from '../runtime/handler.ts';

/**
 * Used by ProbeHealth and ProbeBake (the new image: `image.tag`), ProbeGate (the new image along a gate's `route`) and
 * ProbeRollback (the restored image: `imageUri`). The version to expect is the image's tag, when there is one.
 */
const probeHealthInput = z.object({
  health: healthSchema,
  image: z.object({ tag: z.string().exactOptional() }).exactOptional(),
  imageUri: z.string().min(1).exactOptional(),
  route: gateRouteSchema.exactOptional(),
});

export const handler = lambda({ name: 'ProbeHealth', schema: probeHealthInput }, ({ health, image, imageUri, route }) =>
  probeHealth({
    health: { ...health, url: routedUrl(health.url, route) },
    headers: route?.headers,
    expectVersion: image?.tag ?? (imageUri ? tagOf(imageUri) : undefined),
  }),
);
