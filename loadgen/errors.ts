/** The load generator's named errors live with every other error class, in src/core/errors.ts. */
export { LoadInputError, LoadPlanError } from '../src/core/errors.ts';
