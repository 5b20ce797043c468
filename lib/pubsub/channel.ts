// Channel names are literal: `+` and `#` are wildcards only where a subscribe asks for a
// pattern, so a channel built from client input (`'rooms/' + msg.room`) cannot widen into a
// pattern that eavesdrops on other rooms. Checked synchronously, at the call.
import { PLZ_ERR_CHANNEL } from '../errors.js'

/** Options of a subscription. */
export interface SubscribeOptions {
  /** The channel is an mqemitter pattern: `+` matches one level, `#` the remaining levels. */
  pattern?: boolean
}

const WILDCARDS = /[+#]/

/** Whether a name holds a wildcard (`+` or `#`): a pattern, never a literal channel. */
export function hasWildcards (name: string): boolean {
  return WILDCARDS.test(name)
}

/** Throws PLZ_ERR_CHANNEL unless `channel` is a non-empty string, without wildcards unless `pattern`. */
export function checkChannel (channel: unknown, what: string, pattern = false): asserts channel is string {
  if (typeof channel !== 'string' || channel === '') {
    throw new PLZ_ERR_CHANNEL(`${what}: channel must be a non-empty string, received ${channel === '' ? 'an empty string' : typeof channel}`)
  }
  if (!pattern && WILDCARDS.test(channel)) {
    throw new PLZ_ERR_CHANNEL(`${what}: channel names are literal, "+" and "#" are wildcards only with { pattern: true }; received ${JSON.stringify(channel)}`)
  }
}

/** Whether `options` asks for a pattern; throws a TypeError for options that are not an object. */
export function isPattern (options: SubscribeOptions | undefined, what: string): boolean {
  if (options === undefined) return false
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`fastify-plezi: ${what}: options must be an object such as { pattern: true }, received ${options === null ? 'null' : typeof options}`)
  }
  return options.pattern === true
}
