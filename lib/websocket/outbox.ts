// Frames of published messages bound for one socket are held until the end of the current
// turn of the event loop, then written together: when several broadcasts arrive in one
// poll phase, each socket gets one write (one syscall) instead of one per message.
import type { WebSocket } from 'ws'
import type { PubSubMessage } from '../pubsub/pubsub.js'
import type { Transport } from './frame.js'

export interface OutboxOwner {
  readonly socket: WebSocket
  /** The stream `ws` writes to, when we may use it (see frame.ts). */
  readonly transport: Transport | null
  /** The compression threshold of this socket's shared-deflate frames, or false (see frame.ts). */
  readonly compressAbove: number | false
  /** Whether frames we built may be written to `transport` right now (see frame.ts). */
  rawWritable (): boolean
  /** Published messages waiting for the flush, or null. */
  outbox: PubSubMessage[] | null
  /** Called after the frames were written (limits, back-pressure). */
  afterWrite (): void
}

/** Writes what `owner` holds: its frames prebuilt once per message, or through ws when it is busy. */
export function flushOutbox (owner: OutboxOwner): void {
  const messages = owner.outbox
  owner.outbox = null
  const socket = owner.socket
  if (messages === null || socket.readyState !== socket.OPEN) return
  if (owner.rawWritable()) {
    const raw = owner.transport!
    const threshold = owner.compressAbove
    if (messages.length === 1) {
      raw.write(messages[0].frameFor(threshold))
    } else {
      raw.cork()
      for (const message of messages) raw.write(message.frameFor(threshold))
      raw.uncork()
    }
  } else {
    for (const message of messages) socket.send(message.data, { binary: message.binary })
  }
  owner.afterWrite()
}

/** One per app: the connections with something in their outbox, flushed on setImmediate. */
export class OutboxScheduler {
  private dirty: OutboxOwner[] = []
  private scheduled = false
  private readonly run = (): void => {
    this.scheduled = false
    const dirty = this.dirty
    this.dirty = []
    for (const owner of dirty) flushOutbox(owner)
  }

  add (owner: OutboxOwner, message: PubSubMessage): void {
    if (owner.outbox !== null) {
      owner.outbox.push(message)
      return
    }
    owner.outbox = [message]
    this.dirty.push(owner)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.run)
    }
  }
}
