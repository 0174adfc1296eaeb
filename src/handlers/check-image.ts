import middy from '@middy/core';
import { checkImage, type ImageCheck } from '../core/check-image.ts';
import type { Job } from '../core/normalize.ts';
import { ecr } from '../runtime/clients.ts';

/** CheckImage state input: the normalized image (`$.image`). */
export interface CheckImageInput {
  readonly image: Job['image'];
}

export const handler = middy<CheckImageInput, ImageCheck>().handler(async ({ image }) => checkImage({ ecr, image }));
