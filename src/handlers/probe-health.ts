import middy from '@middy/core';
import type { HealthSpec } from '../config/schema.ts';
import { tagOf } from '../core/naming.ts';
import { type ProbeResult, probeHealth } from '../core/probe-health.ts';

/**
 * Used by ProbeHealth (the new image: `image.tag`) and ProbeRollback (the restored image: `imageUri`).
 * The version to expect is the image's tag, when there is one.
 */
export interface ProbeHealthInput {
  readonly health: HealthSpec;
  readonly image?: { readonly tag?: string };
  readonly imageUri?: string;
}

export const handler = middy<ProbeHealthInput, ProbeResult>().handler(async ({ health, image, imageUri }) =>
  probeHealth({ health, expectVersion: image?.tag ?? (imageUri ? tagOf(imageUri) : undefined) }),
);
