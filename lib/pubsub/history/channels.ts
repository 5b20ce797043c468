// Which channels keep history: the `history.channels` patterns (mqemitter's wildcards, `+` one
// level, `#` the remaining levels, also none), matched once per channel and remembered, so a
// publish or a subscribe pays one Map lookup. The memo is bounded: an app that makes channel
// names from input cannot grow it without limit (past the bound it starts over).
import { PLZ_ERR_OPTION } from '../../errors.js'

const MEMO_LIMIT = 10_000

export class HistoryChannels {
  readonly patterns: readonly string[]
  readonly #levels: string[][]
  readonly #memo = new Map<string, boolean>()

  /** Throws PLZ_ERR_OPTION naming `option` for a list that is not one of patterns. */
  constructor (patterns: unknown, option = 'history.channels') {
    if (!Array.isArray(patterns) || patterns.length === 0) {
      throw new PLZ_ERR_OPTION(option, `expected a non-empty array of channel patterns (e.g. ['chat/#']), received ${Array.isArray(patterns) ? 'an empty array' : patterns === null ? 'null' : typeof patterns}`)
    }
    this.#levels = patterns.map((pattern: unknown, i) => {
      if (typeof pattern !== 'string' || pattern === '') throw new PLZ_ERR_OPTION(option, `entry ${i} must be a non-empty string`)
      const levels = pattern.split('/')
      if (levels.some((level) => level !== '+' && level !== '#' && /[+#]/.test(level))) {
        throw new PLZ_ERR_OPTION(option, `entry ${i}: "+" and "#" are wildcards for a whole level ("chat/+", "chat/#"), received ${JSON.stringify(pattern)}`)
      }
      return levels
    })
    this.patterns = Object.freeze([...patterns as string[]])
  }

  /** Whether the literal `channel` keeps history. */
  matches (channel: string): boolean {
    let found = this.#memo.get(channel)
    if (found === undefined) {
      const levels = channel.split('/')
      found = this.#levels.some((pattern) => match(pattern, 0, levels, 0))
      if (this.#memo.size >= MEMO_LIMIT) this.#memo.clear()
      this.#memo.set(channel, found)
    }
    return found
  }
}

/** Whether the literal `channel` matches the mqemitter `pattern`. */
export function matchPattern (pattern: string, channel: string): boolean {
  return match(pattern.split('/'), 0, channel.split('/'), 0)
}

function match (pattern: string[], i: number, levels: string[], j: number): boolean {
  for (; i < pattern.length; i++, j++) {
    const p = pattern[i]
    if (p === '#') {
      for (let k = j; k <= levels.length; k++) if (match(pattern, i + 1, levels, k)) return true
      return false
    }
    if (j >= levels.length || (p !== '+' && p !== levels[j])) return false
  }
  return j === levels.length
}
