// Removing the entries of processes that stopped refreshing. Every survivor sees them in its
// heartbeat's reply; the one that gets the short lock does the work. Each channel's removal is
// one atomic script that returns what it removed, so even two cleaners at once (a lock that
// expired mid-way) send each leave once.
import { randomBytes } from 'node:crypto'
import { emptyState, isEmptyState } from './state.js'
import { stateOf, type PresenceKeys } from './redis-scripts.js'
import type { Batch } from './redis-batch.js'
import type { RedisPresenceStats } from './redis-store.js'
import type { PresenceChange, PresenceLog } from './store.js'

/** Channels per clean-up pipeline. */
const CHUNK = 500

export interface Cleaner {
  readonly batch: Batch
  readonly keys: PresenceKeys
  readonly processId: string
  readonly ttl: number
  readonly stats: RedisPresenceStats
  readonly log: PresenceLog
  /** Reports leaves to this process's listeners and to the other processes. */
  report (changes: PresenceChange[]): Promise<void>
  /** A dead process was cleaned up. */
  cleaned (processId: string, entries: number): void
}

export async function cleanUp (c: Cleaner, dead: string[]): Promise<void> {
  const token = `${c.processId}:${randomBytes(6).toString('base64url')}`
  const [locked] = await c.batch.values((p) => p.set(c.keys.lock, token, 'PX', Math.max(1000, Math.floor(c.ttl / 3)), 'NX'))
  c.stats.roundTrips++
  if (locked !== 'OK') return
  try {
    const sets = await c.batch.values((p) => { for (const pid of dead) p.smembers(c.keys.proc(pid)) }) as string[][]
    c.stats.roundTrips++
    for (let i = 0; i < dead.length; i++) await drop(c, dead[i], sets[i])
  } finally {
    await c.batch.values((p) => p.plzPresenceUnlock(c.keys.lock, token))
    c.stats.roundTrips++
  }
}

// Channel by channel, then the process itself. If it was only late (a long pause), its next
// heartbeat finds it missing and it re-writes its entries.
async function drop (c: Cleaner, pid: string, channels: string[]): Promise<void> {
  let removed = 0
  for (let i = 0; i < channels.length; i += CHUNK) {
    const part = channels.slice(i, i + CHUNK)
    const results = await c.batch.values((p) => {
      for (const channel of part) {
        const k = c.keys.channel(channel, pid)
        p.plzPresenceDrop(k.own, k.keys, k.pids, pid)
      }
    }) as string[][]
    c.stats.roundTrips++
    const changes: PresenceChange[] = []
    part.forEach((channel, j) => {
      removed += results[j].length / 2
      const leaves = stateOf(results[j])
      if (!isEmptyState(leaves)) changes.push({ channel, joins: emptyState(), leaves })
    })
    await c.report(changes)
  }
  await c.batch.values((p) => p.del(c.keys.proc(pid)).zrem(c.keys.procs, pid))
  c.stats.roundTrips++
  c.stats.cleanups++
  c.stats.cleanedEntries += removed
  c.log.info({ processId: pid, entries: removed }, 'presence: removed the entries of a process that stopped refreshing')
  c.cleaned(pid, removed)
}
