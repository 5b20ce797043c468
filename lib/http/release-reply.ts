// After the 101, an upgraded request's reply is never used again, yet @fastify/websocket keeps
// it alive as long as the socket (its error listener closes over it), and with it the
// ServerResponse it made for routing: about 0.6 KB per open connection (the response, its
// listeners and Fastify's `onResFinished` closure), found with `node bench/heap.js`. That
// response never writes a byte (ws writes the 101 on the socket itself) and never finishes.
import type { FastifyReply } from 'fastify'
import type { ServerResponse } from 'node:http'

type Attached = ServerResponse & { socket: (ServerResponse['socket'] & { _httpMessage?: unknown }) | null }

/** Lets go of the upgrade's ServerResponse: off the TCP socket, off the reply. */
export function releaseUpgradeResponse (reply: FastifyReply): void {
  const res = reply.raw as Attached | null
  if (res === null || typeof res !== 'object') return
  // undoes the assignSocket() @fastify/websocket did, so the socket no longer points at it
  if (res.socket !== null && res.socket?._httpMessage === res && typeof res.detachSocket === 'function') res.detachSocket(res.socket)
  ;(reply as unknown as { raw: ServerResponse | null }).raw = null
}
