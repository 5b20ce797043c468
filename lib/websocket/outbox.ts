// Frames of published messages bound for one socket are held until the end of the current
// turn of the event loop, then written together: when several broadcasts arrive in one
// poll phase, or while a sweep over many sockets is under way, each socket gets one write
// (one syscall) instead of one per message.
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

// Up to this many bytes, joining a socket's frames costs less than writing them corked (a
// writev); above, the copy only pays off when other sockets share the joined buffer.
const JOIN_ALONE_MAX = 16 * 1024

/**
 * Several frames for one socket go out joined into one buffer (one write, not a corked writev).
 * Subscribers of the same channels get the same frames in a turn: the scheduler keeps the last
 * join, and a socket whose frames are the same messages reuses it, so the copy is made once per
 * turn for all of them.
 */
export class JoinedFrames {
  private messages: PubSubMessage[] | null = null
  private threshold: number | false = false
  private joined: Buffer | null = null

  /** The frames of `messages` in one buffer, or null when they are better written corked. */
  take (messages: PubSubMessage[], threshold: number | false): Buffer | null {
    const last = this.messages
    if (last === null || threshold !== this.threshold || !sameMessages(last, messages)) {
      this.messages = messages
      this.threshold = threshold
      this.joined = null
      let size = 0
      for (const message of messages) size += message.frameFor(threshold).length
      if (size > JOIN_ALONE_MAX) return null // joined if the next socket has the same frames
    }
    this.joined ??= Buffer.concat(messages.map((message) => message.frameFor(threshold)))
    return this.joined
  }

  clear (): void {
    this.messages = null
    this.joined = null
  }
}

function sameMessages (a: PubSubMessage[], b: PubSubMessage[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Writes what `owner` holds: its frames prebuilt once per message, or through ws when it is busy. */
export function flushOutbox (owner: OutboxOwner, joins?: JoinedFrames): void {
  const messages = owner.outbox
  owner.outbox = null
  const socket = owner.socket
  if (messages === null || socket.readyState !== socket.OPEN) return
  if (owner.rawWritable()) {
    const raw = owner.transport!
    const threshold = owner.compressAbove
    const joined = messages.length === 1 ? messages[0].frameFor(threshold) : joins?.take(messages, threshold) ?? null
    if (joined !== null) {
      raw.write(joined)
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

// A sweep writes for at most this long before it lets the event loop poll; what is published
// meanwhile joins the outboxes the sweep has not reached yet, so under load each socket's write
// carries more messages (fewer syscalls), and a long sweep never holds up reads and timers.
const SLICE_MS = 2

/**
 * One per app: the connections with something in their outbox, in the order they got it,
 * flushed on setImmediate, a slice at a time.
 */
export class OutboxScheduler {
  private queue: OutboxOwner[] = []
  private head = 0 // where the next slice starts
  private scheduled = false
  private readonly joins = new JoinedFrames()
  private readonly run = (): void => {
    const queue = this.queue
    const deadline = performance.now() + SLICE_MS
    let i = this.head
    while (i < queue.length) {
      flushOutbox(queue[i++], this.joins)
      if ((i & 63) === 0 && performance.now() > deadline) break
    }
    this.joins.clear() // the joined buffer belongs to this slice's sockets only
    if (i < queue.length) {
      // the rest, and whoever gets a message meanwhile after it; the flushed part is dropped
      // once it is the larger half, so each entry is copied at most once on average
      if (i > queue.length - i) {
        this.queue = queue.slice(i)
        i = 0
      }
      this.head = i
      setImmediate(this.run)
      return
    }
    this.queue = []
    this.head = 0
    this.scheduled = false
  }

  add (owner: OutboxOwner, message: PubSubMessage): void {
    if (owner.outbox !== null) {
      owner.outbox.push(message)
      return
    }
    owner.outbox = [message]
    this.queue.push(owner)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.run)
    }
  }
}
