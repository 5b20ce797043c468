// Exponential back-off with jitter: a pure delay calculator with a `tries` count.
import { JITTER } from './constants.js'

export interface BackoffOptions {
  /** First delay (read on every step, so a changed `reconnect_interval` applies). */
  base: () => number
  /** Cap on every delay. */
  max: () => number
  /** Source of randomness in [0, 1); `Math.random` by default. */
  random?: () => number
  /** Relative jitter, 0 ≤ jitter < 1. */
  jitter?: number
}

export class Backoff {
  /** Attempts since the last `reset()`. */
  tries = 0
  readonly #o: BackoffOptions

  constructor (options: BackoffOptions) {
    this.#o = options
  }

  /** The delay before the next attempt: base·2^tries, jittered, capped. */
  next (): number {
    const { base, max, random = Math.random, jitter = JITTER } = this.#o
    const delay = base() * 2 ** this.tries++ * (1 + jitter * (2 * random() - 1))
    return Math.min(max(), delay)
  }

  reset (): void {
    this.tries = 0
  }
}
