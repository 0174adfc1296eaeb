import { z } from 'zod';
import { checkImage } from '../core/check-image.ts';
import { jobImageSchema } from '../core/normalize.ts';
import { ecr } from '../runtime/clients.ts';
import { lambda } from '../runtime/handler.ts';

/** CheckImage state input: the normalized image (`$.image`). */
const checkImageInput = z.object({ image: jobImageSchema });

export const handler = lambda({ name: 'CheckImage', schema: checkImageInput }, ({ image }) =>
  checkImage({ ecr, image }),
);
