/**
 * Named errors of the load generator. `name` is what an ASL Catch/Retry `ErrorEquals` matches.
 * (The lead moves these into src/core/errors.ts later.)
 */

/** A shard, CLI flag or report input is malformed; the message names the field, the value and what was expected. */
export class LoadInputError extends Error {
  override name = 'LoadInputError';
}

/** The requested load cannot be planned within the Lambda and Step Functions limits; the message says which. */
export class LoadPlanError extends Error {
  override name = 'LoadPlanError';
}
