/**
 * The pure part of the ALB model: listener rules (conditions and weighted forward actions), rule matching by priority,
 * and a deterministic weighted choice of target group. No I/O: the load balancer (./index.ts) asks, this answers.
 */

/**
 * An `http-header` condition as an ALB has it: the header name is case-insensitive and has no wildcards; each value
 * is a case-insensitive pattern with `*` (0 or more characters) and `?` (exactly one); the condition holds when any
 * value of the header (repeated headers are searched in order) matches any pattern.
 */
export interface HttpHeaderCondition {
  httpHeaderName: string;
  values: string[];
}

/** One target group of a forward action and its weight (0..999, as an ALB's; 0 sends it nothing). */
export interface WeightedTargetGroup {
  targetGroup: string;
  weight: number;
}

/** A listener rule: every condition must hold (none for the default rule); the action forwards by weight. */
export interface ListenerRule {
  /** ARN-like identifier, what ECS's `productionListenerRule` / `testListenerRule` name. */
  arn: string;
  /** Lower is evaluated first; the default rule is `default` and evaluated last. */
  priority: number | 'default';
  conditions: HttpHeaderCondition[];
  forward: WeightedTargetGroup[];
}

/** The largest weight an ALB accepts on a forward action's target group. */
export const MAX_WEIGHT = 999;

/** Throws an error naming the field when a forward action cannot work. */
export function validateForward(forward: readonly WeightedTargetGroup[], known: ReadonlySet<string>): void {
  if (forward.length === 0) throw new Error('a forward action needs at least one target group, got none');
  const seen = new Set<string>();
  for (const { targetGroup, weight } of forward) {
    if (!known.has(targetGroup)) {
      throw new Error(`unknown target group ${targetGroup}: expected one of ${[...known].join(', ')}`);
    }
    if (seen.has(targetGroup)) throw new Error(`target group ${targetGroup} appears twice in one forward action`);
    seen.add(targetGroup);
    if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) {
      throw new Error(
        `weight of target group ${targetGroup} must be an integer from 0 to ${MAX_WEIGHT}, got ${weight}`,
      );
    }
  }
}

function patternToRegExp(pattern: string): RegExp {
  const body = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'is');
}

/** Whether the request headers (Node's: lower-case names) satisfy an http-header condition. */
export function headerMatches(
  condition: HttpHeaderCondition,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): boolean {
  const raw = headers[condition.httpHeaderName.toLowerCase()];
  const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const patterns = condition.values.map(patternToRegExp);
  return values.some((value) => patterns.some((p) => p.test(value)));
}

/** The rule a request takes: the matching rule of lowest priority, else the default rule. */
export function matchRule(
  rules: readonly ListenerRule[],
  headers: Readonly<Record<string, string | string[] | undefined>>,
): ListenerRule | undefined {
  let best: ListenerRule | undefined;
  let fallback: ListenerRule | undefined;
  for (const rule of rules) {
    if (rule.priority === 'default') {
      fallback = rule;
      continue;
    }
    if (!rule.conditions.every((c) => headerMatches(c, headers))) continue;
    if (best === undefined || rule.priority < (best.priority as number)) best = rule;
  }
  return best ?? fallback;
}

/**
 * Smooth weighted round robin (nginx's): every pick adds each weight to its running score, takes the highest score
 * and subtracts the total from it. Deterministic and exact: over any window of `total` picks each target group gets
 * exactly its weight, spread out (10/90 gives one pick in ten, not ten in a row).
 */
export class WeightedChooser {
  #forward: WeightedTargetGroup[] = [];
  #scores: number[] = [];

  constructor(forward: readonly WeightedTargetGroup[]) {
    this.reset(forward);
  }

  /** New weights start a new cycle. */
  reset(forward: readonly WeightedTargetGroup[]): void {
    this.#forward = forward.map((f) => ({ ...f }));
    this.#scores = forward.map(() => 0);
  }

  /** The next target group, or undefined when no target group has a weight above 0. */
  next(): string | undefined {
    let total = 0;
    let bestIndex = -1;
    for (let i = 0; i < this.#forward.length; i++) {
      const f = this.#forward[i] as WeightedTargetGroup;
      if (f.weight <= 0) continue;
      const score = (this.#scores[i] as number) + f.weight;
      this.#scores[i] = score;
      total += f.weight;
      if (bestIndex < 0 || score > (this.#scores[bestIndex] as number)) bestIndex = i;
    }
    if (bestIndex < 0) return undefined;
    this.#scores[bestIndex] = (this.#scores[bestIndex] as number) - total;
    return (this.#forward[bestIndex] as WeightedTargetGroup).targetGroup;
  }
}
