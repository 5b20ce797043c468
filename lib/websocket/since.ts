// `_since_`: the query parameter of a reconnecting client's upgrade, the JSON object of the last
// position it processed per channel, `{"chat/1":["<epoch>",44],…}` (SPEC 11). Parsed once per
// connection, on its first history subscription. Hostile input is normal input: what is not a
// JSON object, or is larger than 8 KB, is ignored as if absent; keys that are not literal
// channels are ignored the same way; a value that is not a position counts as lost.
import type { FastifyBaseLogger } from 'fastify'
import type { Position } from '../pubsub/history/store.js'
import { hasWildcards } from '../pubsub/channel.js'

/** What a client said of one channel: where it was, or that its position is unusable. */
export type SinceEntry = Position | 'lost'

export const SINCE_MAX_BYTES = 8192

/** The positions of `_since_` (a query value), or null when there are none to use. */
export function parseSince (raw: unknown, log: Pick<FastifyBaseLogger, 'debug'>): Map<string, SinceEntry> | null {
  if (raw === undefined) return null
  if (typeof raw !== 'string') return ignored(log, 'not one string (repeated?)')
  if (raw.length > SINCE_MAX_BYTES || Buffer.byteLength(raw) > SINCE_MAX_BYTES) return ignored(log, `larger than ${SINCE_MAX_BYTES} bytes`)
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return ignored(log, 'not JSON')
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return ignored(log, 'not a JSON object')
  const positions = new Map<string, SinceEntry>()
  let skipped = 0
  for (const [channel, position] of Object.entries(value)) {
    if (channel === '' || channel === '__proto__' || hasWildcards(channel)) skipped++
    else positions.set(channel, toEntry(position))
  }
  // JSON.parse makes "__proto__" an own key; Object.entries lists it, and it is skipped above.
  if (skipped > 0) log.debug({ skipped }, 'fastify-plezi: _since_ keys that are not literal channels were ignored')
  return positions.size > 0 ? positions : null
}

function toEntry (position: unknown): SinceEntry {
  if (!Array.isArray(position) || position.length !== 2) return 'lost'
  const [epoch, offset] = position as unknown[]
  if (typeof epoch !== 'string' || !Number.isInteger(offset) || (offset as number) < 0) return 'lost'
  return { epoch, offset: offset as number }
}

function ignored (log: Pick<FastifyBaseLogger, 'debug'>, why: string): null {
  log.debug({ why }, 'fastify-plezi: _since_ ignored')
  return null
}
