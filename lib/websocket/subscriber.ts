// A connection's subscription: forwards published messages to the client, or runs its handler
// in the connection's serial queue.
import type { Connection } from './connection.js'
import type { SubscriptionHandler } from '../controller.js'
import type { PubSubMessage, Subscriber } from '../pubsub/pubsub.js'

export class ConnectionSubscriber implements Subscriber {
  live = true
  constructor (
    readonly connection: Connection,
    readonly channel: string,
    readonly handler: SubscriptionHandler<any> | undefined
  ) {}

  deliver (message: PubSubMessage): void {
    if (!this.live) return
    if (this.handler === undefined) this.connection.writeMessage(message)
    else this.connection.queue.push(runHandler, this, message) // in the connection's order, no closure per message
  }
}

export function runHandler (this: ConnectionSubscriber, message: PubSubMessage): unknown {
  return this.live ? this.handler!.call(this.connection.controller, message.value, message.channel, message.position) : undefined
}
