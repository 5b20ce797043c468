// AJAJ: the HTTP fallback. POSTs a JSON event to the websocket's path over http(s); the
// server answers with the handler's reply as JSON, or 204 when there is none.
import type { Message } from './types.js'

export class Ajaj {
  /** Fields merged into every AJAJ event (the event's own fields win). */
  add: Record<string, unknown> = {}
  /** When true, `emit`'s default timeout handler retries the event over AJAJ. */
  auto = false
  url: string
  readonly #dispatch: (msg: Message) => void

  constructor (url: string, dispatch: (msg: Message) => void) {
    this.url = url
    this.#dispatch = dispatch
  }

  /**
   * Sends `event`; a JSON reply is dispatched like a websocket message. On a network error or
   * a non-2xx status, `callback(event)` runs. Resolves once all that is done.
   */
  async emit (event: Message, callback?: (event: Message) => void): Promise<void> {
    const body = { ...this.add, ...event }
    let text
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body)
      })
      if (!res.ok) throw new Error(res.statusText)
      text = await res.text()
    } catch {
      return callback?.(body)
    }
    if (text) {
      try {
        this.#dispatch(JSON.parse(text))
      } catch (err) {
        console.error('PleziClient: AJAJ reply is not JSON', err, text)
      }
    }
  }
}
