// Changes on their way to other processes: those of one channel made in one turn of the event
// loop travel as one message (a storm of joins is a few messages, not one per join), in order,
// and no message carries more than CHUNK metas.
import { addMeta, emptyState } from './state.js'
import { encodeChanges, type PresenceTransport } from './transport.js'
import type { ListedMeta, PresenceChange, PresenceLog } from './store.js'

const CHUNK = 500

export class Outgoing {
  readonly #origin: string
  readonly #transport: PresenceTransport
  readonly #log: PresenceLog
  readonly #pending = new Map<string, { changes: PresenceChange[], sent: Promise<void> }>()

  constructor (origin: string, transport: PresenceTransport, log: PresenceLog) {
    this.#origin = origin
    this.#transport = transport
    this.#log = log
  }

  /** Resolves once the message with this change was handed to the transport. Never rejects. */
  send (change: PresenceChange): Promise<void> {
    let batch = this.#pending.get(change.channel)
    if (batch === undefined) {
      const changes: PresenceChange[] = []
      const sent = new Promise<void>((resolve) => {
        queueMicrotask(() => {
          this.#pending.delete(change.channel)
          resolve(this.#flush(change.channel, changes))
        })
      })
      this.#pending.set(change.channel, batch = { changes, sent })
    }
    batch.changes.push(change)
    return batch.sent
  }

  // Every message of a turn is handed over before any is awaited, so they keep their order.
  async #flush (channel: string, changes: PresenceChange[]): Promise<void> {
    const sends = messages(changes).map(async (message) => {
      try {
        await this.#transport.publish(channel, encodeChanges(this.#origin, message))
      } catch (err) {
        this.#log.warn({ err, channel }, 'presence: a change could not be sent to other processes')
      }
    })
    await Promise.all(sends)
  }
}

/** Changes grouped into messages of at most CHUNK metas, a big change split across them. */
function messages (changes: PresenceChange[]): PresenceChange[][] {
  const out: PresenceChange[][] = []
  let message: PresenceChange[] = []
  let size = 0
  const room = (): void => {
    if (size < CHUNK) return
    out.push(message)
    message = []
    size = 0
  }
  for (const change of changes) {
    const n = sizeOf(change)
    if (size + n <= CHUNK) {
      message.push(change)
      size += n
      continue
    }
    // Too big for what is left: split it, leaves first (clients apply leaves, then joins).
    let part = { channel: change.channel, joins: emptyState(), leaves: emptyState() }
    const add = (side: 'joins' | 'leaves', key: string, meta: ListedMeta): void => {
      addMeta(part[side], key, meta)
      if (++size < CHUNK) return
      message.push(part)
      part = { channel: change.channel, joins: emptyState(), leaves: emptyState() }
      room()
    }
    for (const key in change.leaves) for (const meta of change.leaves[key].metas) add('leaves', key, meta)
    for (const key in change.joins) for (const meta of change.joins[key].metas) add('joins', key, meta)
    if (sizeOf(part) > 0) message.push(part)
  }
  if (message.length > 0) out.push(message)
  return out
}

function sizeOf (change: PresenceChange): number {
  let n = 0
  for (const key in change.leaves) n += change.leaves[key].metas.length
  for (const key in change.joins) n += change.joins[key].metas.length
  return n
}
