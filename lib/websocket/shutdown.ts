// Graceful shutdown (SPEC section 9), run from @fastify/websocket's preClose, in two phases so
// that what one connection's onShutdown publishes still reaches the others: first every open
// connection runs onShutdown; then each flushes, closes with 1001 and runs onClose. Last, the
// app's own `{ websocket: true }` routes' sockets get 1001 too. All of it is bounded by
// `shutdownTimeout`, after which stragglers are terminated.
import type { WebSocket } from 'ws'
import type { AppContext } from '../context.js'
import { connectionOf } from './connection.js'

export async function shutdownConnections (context: AppContext, sockets: Iterable<WebSocket>): Promise<void> {
  context.closing = true
  const connections = [...context.connections]
  const others = [...sockets].filter((socket) => connectionOf(socket) === undefined)
  if (connections.length === 0 && others.length === 0) return
  const started = Date.now()
  context.log.info({ connections: connections.length, otherWebsockets: others.length }, 'fastify-plezi: shutting down websockets')
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      context.log.warn({ open: context.connections.size }, 'fastify-plezi: shutdownTimeout reached, terminating connections')
      resolve()
    }, context.options.shutdownTimeout)
  })
  try {
    await Promise.all(connections.map((connection) => connection.runShutdownHook(deadline)))
    await Promise.all([
      ...connections.map((connection) => connection.closeForShutdown(deadline)),
      ...others.map((socket) => closeForeignSocket(socket, deadline))
    ])
  } finally {
    clearTimeout(timer)
  }
  context.log.info({ connections: connections.length, otherWebsockets: others.length, duration: Date.now() - started }, 'fastify-plezi: websockets closed')
}

/** A websocket of the app's own `{ websocket: true }` routes: 1001, cut at the deadline. */
async function closeForeignSocket (socket: WebSocket, deadline: Promise<void>): Promise<void> {
  if (socket.readyState === socket.CLOSED) return
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  if (socket.readyState === socket.OPEN) socket.close(1001, 'server shutting down')
  await Promise.race([closed, deadline])
  socket.terminate()
}
