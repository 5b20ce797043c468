// The presence helper (SPEC 12), in the ES module only (the IIFE bundle has a size budget):
// keeps a channel's state from `_presence_` / `_presence_diff_` frames, applying leaves then
// joins by `conn`, and calls onjoin / onleave when a key's first meta appears / last one goes,
// once the whole frame is applied. The server sends a subscription's state before its diffs, so
// a diff seen before any state (a helper made after the state came) belongs to a state this
// helper never had: it is ignored, as replaying it onto a later, newer state would undo it.
// Entries that are not `{ metas: [{ conn }] }` are skipped.

/** A meta as the server lists it: what was tracked, plus the connection it belongs to. */
export type PresenceMeta = Record<string, unknown> & { conn: string }
export interface PresenceEntry { metas: PresenceMeta[] }
/** `{ [key]: { metas } }` (a null-prototype object). */
export type PresenceList = Record<string, PresenceEntry>

/** What the helper needs of a client: its event listeners. */
export interface PresenceSource {
  on (event: string, fn: (msg: any) => unknown): unknown
  off (event: string, fn: (msg: any) => unknown): unknown
}

interface Frame { channel?: unknown, state?: PresenceList, joins?: PresenceList, leaves?: PresenceList }

export class Presence {
  /** A key's first meta appeared: `current` is its entry now, `joined` what came. */
  onjoin?: (key: string, current: PresenceEntry, joined: PresenceEntry) => void
  /** A key's last meta went: `current` is empty, `left` what went. */
  onleave?: (key: string, current: PresenceEntry, left: PresenceEntry) => void
  #state: PresenceList | undefined

  constructor (readonly client: PresenceSource, readonly channel: string) {
    client.on('_presence_', this.#onState)
    client.on('_presence_diff_', this.#onDiff)
  }

  /** The state now (empty until the first `_presence_`): read-only. */
  list (): PresenceList {
    return this.#state ?? Object.create(null)
  }

  /** Stops following the channel's frames (the server keeps sending them until unsubscribePresence). */
  close (): void {
    this.client.off('_presence_', this.#onState)
    this.client.off('_presence_diff_', this.#onDiff)
  }

  // A fresh state (also after a reconnect): everything known leaves, the new state joins.
  #onState = (msg: Frame): void => {
    if (msg.channel !== this.channel) return
    const old = this.#state ?? Object.create(null)
    this.#state = old
    this.#apply(msg.state ?? {}, { ...old })
  }

  #onDiff = (msg: Frame): void => {
    if (msg.channel !== this.channel || this.#state === undefined) return
    this.#apply(msg.joins ?? {}, msg.leaves ?? {})
  }

  #apply (joins: PresenceList, leaves: PresenceList): void {
    const s = this.#state!
    const had = new Map<string, boolean>()
    const drop = (key: string, metas: PresenceMeta[]): void => {
      if (!had.has(key)) had.set(key, s[key] !== undefined)
      const conns = new Set(metas.map((m) => m.conn))
      const rest = s[key]?.metas.filter((m) => !conns.has(m.conn)) ?? []
      if (rest.length > 0) s[key] = { metas: rest }
      else delete s[key]
    }
    for (const key of Object.keys(leaves)) if (valid(leaves[key])) drop(key, leaves[key].metas)
    for (const key of Object.keys(joins)) {
      if (!valid(joins[key])) continue
      const metas = joins[key].metas
      drop(key, metas)
      if (metas.length > 0) s[key] = { metas: [...(s[key]?.metas ?? []), ...metas] }
    }
    for (const [key, before] of had) {
      const now = s[key] !== undefined
      if (!before && now) this.onjoin?.(key, s[key], joins[key])
      else if (before && !now) this.onleave?.(key, { metas: [] }, leaves[key])
    }
  }
}

const valid = (entry: unknown): entry is PresenceEntry => {
  const metas = (entry as PresenceEntry | null)?.metas
  return Array.isArray(metas) && metas.every((m) => typeof m?.conn === 'string')
}
