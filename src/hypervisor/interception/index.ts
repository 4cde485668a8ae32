// The interception strategies by name (`trace record --intercept <name>`).

import { UserError } from '../../errors.js';
import { DoubleSwap } from './doubleSwap.js';
import { FillTheGap } from './fillTheGap.js';
import { HandlerInjection } from './handlerInjection.js';
import { Nitro } from './nitro.js';
import { NoInterception } from './none.js';
import { Selective } from './selective.js';
import type { InterceptionStrategy } from './Strategy.js';

export type { InterceptionStrategy, InterceptionContext, Footprint } from './Strategy.js';

export const STRATEGIES = {
  none: () => new NoInterception(),
  'double-swap': () => new DoubleSwap(),
  'fill-the-gap': () => new FillTheGap(),
  'handler-injection': () => new HandlerInjection(),
  selective: (syscalls: readonly string[]) => new Selective(syscalls),
  nitro: () => new Nitro(),
} as const;
export type StrategyName = keyof typeof STRATEGIES;
export const STRATEGY_NAMES = Object.keys(STRATEGIES) as StrategyName[];
/** What `trace record` intercepts with by default: no change to the guest's kernel text. */
export const DEFAULT_STRATEGY: StrategyName = 'handler-injection';

export function getStrategy(name: string, options: { syscalls?: readonly string[] } = {}): InterceptionStrategy {
  if (!(name in STRATEGIES)) throw new UserError(`unknown interception strategy '${name}' (known: ${STRATEGY_NAMES.join(', ')})`);
  if (name === 'selective') return STRATEGIES.selective(options.syscalls ?? []);
  return (STRATEGIES[name as Exclude<StrategyName, 'selective'>] as () => InterceptionStrategy)();
}

export function listStrategies(): Array<{ name: string; description: string }> {
  return STRATEGY_NAMES.map((n) => {
    const s = n === 'selective' ? new Selective(['exit']) : getStrategy(n);
    return { name: n, description: s.description };
  });
}
