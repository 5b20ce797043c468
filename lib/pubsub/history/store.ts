// The contract of a history store (in-process or Redis), the checks both share, and recovery,
// which is the same over any store: one read, then all or nothing.
import { randomBytes } from 'node:crypto'
import { PLZ_ERR_MESSAGE, PLZ_ERR_OPTION } from '../../errors.js'
import { describe } from '../../describe.js'

/** History keeps strings and JSON text; Buffers never reach a history channel. */
export type HistoryKind = 'string' | 'json'

/** An encoded message, as PubSubMessage holds it (`kind` plus the string or the JSON text). */
export interface HistoryData {
  readonly kind: HistoryKind
  readonly data: string
}

/** Where a message sits in its channel: `offset` counts 1, 2, 3 … within one `epoch`. */
export interface Position {
  readonly epoch: string
  readonly offset: number
}

export interface HistoryEntry extends HistoryData {
  readonly offset: number
}

export interface ReadOptions {
  /** Exclusive: the messages after this offset. Without it, the last `limit` messages. */
  since?: number
  /** At most this many messages (default: all that history holds); 0 gives only the position. */
  limit?: number
}

/** The channel's latest position (offset 0 when nothing was published in this epoch) and messages, oldest first. */
export interface HistoryPage extends Position {
  readonly messages: HistoryEntry[]
}

export interface HistoryStore {
  /** Resolves once the store can take appends (Redis: connected and the scripts loaded). */
  ready (): Promise<void>
  /**
   * Gives the message the channel's next offset and keeps it. Throws at once (TypeError,
   * PLZ_ERR_CHANNEL / PLZ_ERR_MESSAGE) for a bad channel or message; rejects only when the
   * backend failed (Redis down), and then the caller has no position (`offset: null`).
   */
  append (channel: string, message: HistoryData): Promise<Position>
  /** Throws at once (PLZ_ERR_CHANNEL / PLZ_ERR_OPTION) for a bad channel, `since` or `limit`. */
  read (channel: string, options?: ReadOptions): Promise<HistoryPage>
  /** The channel's position; a channel never published to gets its epoch here, which its first append keeps. */
  latest (channel: string): Promise<Position>
  /** Stops timers and closes what the store created; calls made afterwards reject. */
  close (): Promise<void>
}

/** `size` messages per channel, dropped `ttl` ms after its last publish; its position lives `metaTtl` ms after its last use. */
export interface HistoryLimits {
  size?: number
  ttl?: number
  metaTtl?: number
}

export interface ResolvedLimits {
  size: number
  ttl: number
  metaTtl: number
}

export const HISTORY_DEFAULTS = {
  size: 100,
  ttl: 300_000,
  // Long enough that a client that was up to date when the messages expired still recovers
  // (nothing to replay), short enough that channels seen once do not pile up.
  metaTtl: 86_400_000,
  // The position check (Redis): a message lost upstream reaches subscribers within two of these.
  checkInterval: 10_000
} as const

/** Above it, timers fire at once (Node's limit, about 24.8 days). */
export const MAX_INTERVAL = 2_147_483_647

// Far above any sensible setting, low enough that Redis and timers take the numbers as given.
const MAX_SIZE = 1_000_000
const MAX_TTL = 365 * 86_400_000

/** Defaults and checks; `option` names the option in errors (e.g. `history` → `history.size`). */
export function resolveLimits (limits: HistoryLimits = {}, option = 'history'): ResolvedLimits {
  if (typeof limits !== 'object' || limits === null) throw new PLZ_ERR_OPTION(option, `must be an object, received ${describe(limits)}`)
  const size = limits.size ?? HISTORY_DEFAULTS.size
  const ttl = limits.ttl ?? HISTORY_DEFAULTS.ttl
  checkInteger(size, 1, MAX_SIZE, `${option}.size`)
  checkInteger(ttl, 1, MAX_TTL, `${option}.ttl`)
  const metaTtl = limits.metaTtl ?? Math.max(ttl, HISTORY_DEFAULTS.metaTtl)
  checkInteger(metaTtl, 1, MAX_TTL, `${option}.metaTtl`)
  if (metaTtl < ttl) throw new PLZ_ERR_OPTION(`${option}.metaTtl`, `must be at least ${option}.ttl (${ttl}), received ${metaTtl}`)
  return { size, ttl, metaTtl }
}

function checkInteger (value: unknown, min: number, max: number, option: string): asserts value is number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new PLZ_ERR_OPTION(option, `must be an integer from ${min} to ${max}, received ${describe(value)}`)
  }
}

/**
 * The stored form of an encoded message (a PubSubMessage fits): throws PLZ_ERR_MESSAGE for a
 * Buffer or anything else that is not a string or JSON text. Call it at publish, before anything
 * is delivered, so a Buffer on a history channel throws at the call.
 */
export function toHistoryData (message: { readonly kind: string, readonly data: unknown }): HistoryData {
  if (typeof message !== 'object' || message === null) {
    throw new PLZ_ERR_MESSAGE(`history: a message must be { kind: "string" | "json", data: string }, received ${describe(message)}`)
  }
  const { kind, data } = message
  if ((kind === 'string' || kind === 'json') && typeof data === 'string') return { kind, data }
  if (kind === 'buffer' || Buffer.isBuffer(data) || data instanceof Uint8Array) {
    throw new PLZ_ERR_MESSAGE('history channels keep strings and JSON values: a Buffer cannot be published to one')
  }
  throw new PLZ_ERR_MESSAGE(`history: a message must be { kind: "string" | "json", data: string }, received kind ${describe(kind)} with ${describe(data)}`)
}

/** Checks `since` and `limit`; returns the limit to apply (`size` when none was given). */
export function checkRead (options: ReadOptions | undefined, size: number): { since: number | undefined, limit: number } {
  if (options === undefined) return { since: undefined, limit: size }
  if (typeof options !== 'object' || options === null) throw new PLZ_ERR_OPTION('history', `read options must be an object, received ${describe(options)}`)
  const { since, limit } = options
  if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) {
    throw new PLZ_ERR_OPTION('since', `must be an integer ≥ 0, received ${describe(since)}`)
  }
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new PLZ_ERR_OPTION('limit', `must be an integer ≥ 0, received ${describe(limit)}`)
  }
  return { since, limit: Math.min(limit ?? size, size) }
}

export function checkPosition (position: unknown): asserts position is Position {
  const p = position as Partial<Position> | null
  if (typeof p !== 'object' || p === null || typeof p.epoch !== 'string' || !Number.isInteger(p.offset) || (p.offset as number) < 0) {
    throw new PLZ_ERR_OPTION('since', `must be { epoch: string, offset: integer ≥ 0 }, received ${describe(position)}`)
  }
}

export interface Recovery {
  /** True when `messages` are exactly every message after the position, up to `latest`. */
  readonly recovered: boolean
  /** Empty unless recovered: a partial replay would hide a gap. */
  readonly messages: HistoryEntry[]
  readonly latest: Position
}

/**
 * All or nothing, as Centrifugo does: recovered only in the same epoch, when history still holds
 * the message right after `since` and everything up to the latest offset. Any integer offset
 * ≥ 0 is a position (huge ones never recover); anything else throws at once (PLZ_ERR_OPTION):
 * a client's `null` offset or malformed `_since_` entry is for the caller to answer with
 * `recovered: false`.
 */
export function recover (store: HistoryStore, channel: string, since: Position): Promise<Recovery> {
  checkPosition(since)
  // An offset past any channel's (say 1e20) is a position, just never a recoverable one.
  return store.read(channel, { since: Math.min(since.offset, Number.MAX_SAFE_INTEGER) }).then((page) => {
    const latest = { epoch: page.epoch, offset: page.offset }
    const { messages } = page
    const complete = page.epoch === since.epoch && since.offset <= page.offset && (messages.length === 0
      ? page.offset === since.offset
      : messages[0].offset === since.offset + 1 && messages[messages.length - 1].offset === page.offset)
    return complete ? { recovered: true, messages, latest } : { recovered: false, messages: [], latest }
  })
}

/**
 * Epochs and packet ids: a random part per store, a counter for each new one. Unique across
 * processes and restarts without paying for randomness on every publish.
 */
export class IdSource {
  readonly #base = randomBytes(9).toString('base64url')
  #count = 0

  next (): string {
    return `${this.#base}${(++this.#count).toString(36)}`
  }
}

