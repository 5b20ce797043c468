// A connection's literal subscription to a history channel (SPEC 11). It keeps the position of
// what it delivered and passes each message once, in offset order:
// - until its start position is known it buffers the live messages; then it sends `_sub_`, the
//   messages recovered from history (when the client's `_since_` had a position for the
//   channel), and the buffered ones it has not already sent: no gap, no duplicate between them;
// - a message it already passed (same epoch, offset not past its own) is dropped;
// - a message that does not follow (new epoch, an offset that skips ahead, or after a null
//   offset) is announced by a `_sub_` with recovered: false, so the client reloads.
// Direct subscriptions write each message's `_pub_` envelope (one frame per message per
// process); handler subscriptions run the handler with the position, and send nothing else.
import type { PubSubMessage, Recovered } from '../pubsub/pubsub.js'
import type { Position } from '../pubsub/history/store.js'
import { ConnectionSubscriber } from './subscriber.js'
import type { SinceEntry } from './since.js'

/** What `subscribe()` on a history channel resolves to, and what `_sub_` says. */
export interface HistorySubscription {
  /** null while the store cannot be reached (Redis down). */
  readonly epoch: string | null
  /** The position right before the next message delivered: the channel's latest, or the client's own when recovered. */
  readonly offset: number | null
  /** The messages after the client's `_since_` position were all delivered. */
  readonly recovered: boolean
  /** The client's `_since_` had a position for this channel. */
  readonly wasRecovering: boolean
}

export class HistorySubscriber extends ConnectionSubscriber {
  epoch: string | null = null
  offset: number | null = null
  #pending: PubSubMessage[] | null = []

  override deliver (message: PubSubMessage): void {
    if (!this.live) return
    if (this.#pending !== null) this.#pending.push(message)
    else this.#pass(message)
  }

  /**
   * Once the subscription is `active`: reads where to start (or recovers from `since`), sends
   * `_sub_` (direct subscriptions), then what was recovered and buffered.
   */
  async start (active: Promise<void>, since: SinceEntry | undefined): Promise<HistorySubscription> {
    const { pubsub } = this.connection.context
    let recovery: Recovered | undefined
    let latest: Position | undefined
    try {
      await active
      if (since !== undefined && since !== 'lost') {
        recovery = await pubsub.recover(this.channel, since)
        latest = recovery.latest
      } else {
        latest = await pubsub.position(this.channel)
      }
    } catch (err) {
      this.connection.controller.log.debug({ err, channel: this.channel }, 'fastify-plezi: history unavailable (Redis down?): subscribed without a position')
    }
    const recovered = recovery?.recovered === true
    let start: number | null = null
    if (latest !== undefined) {
      start = recovered ? (since as Position).offset : latest.offset
      const first = this.#pending?.[0]?.position
      // A live message already buffered that the read counted in: start right before it.
      if (!recovered && first?.epoch === latest.epoch && first.offset !== null && first.offset <= start) start = first.offset - 1
    }
    const position: HistorySubscription = { epoch: latest?.epoch ?? null, offset: start, recovered, wasRecovering: since !== undefined }
    const pending = this.#pending ?? []
    this.#pending = null
    if (!this.live) return position
    this.epoch = position.epoch
    this.offset = start
    this.#announce(position)
    if (recovered) for (const message of recovery!.messages) this.#pass(message)
    for (const message of pending) this.#pass(message)
    return position
  }

  #pass (message: PubSubMessage): void {
    const position = message.position
    if (position !== undefined) {
      const { epoch, offset } = position
      if (offset === null) {
        this.offset = null // delivered here only (Redis down): what follows cannot be checked
      } else if (epoch === this.epoch && this.offset !== null && offset <= this.offset) {
        return
      } else {
        if (epoch !== this.epoch || this.offset === null || offset !== this.offset + 1) {
          this.#announce({ epoch, offset: offset - 1, recovered: false, wasRecovering: true })
        }
        this.epoch = epoch
        this.offset = offset
      }
    }
    if (this.handler !== undefined) super.deliver(message)
    else this.connection.writeMessage(position === undefined ? message : message.envelope)
  }

  #announce (position: HistorySubscription): void {
    if (this.handler !== undefined) return
    const { epoch, offset, recovered, wasRecovering } = position
    this.connection.write(`{"event":"_sub_","channel":${JSON.stringify(this.channel)},"epoch":${JSON.stringify(epoch)},"offset":${String(offset)},"recovered":${String(recovered)},"wasRecovering":${String(wasRecovering)}}`)
  }
}
