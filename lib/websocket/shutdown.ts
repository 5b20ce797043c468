// Graceful shutdown (SPEC section 9), run from @fastify/websocket's preClose: every open
// connection runs onShutdown, flushes, closes with 1001 and runs onClose — all bounded by
// `shutdownTimeout`, after which stragglers are cut.
import type { AppContext } from '../context.js'

export async function shutdownConnections (context: AppContext): Promise<void> {
  context.closing = true
  const connections = [...context.connections]
  if (connections.length === 0) return
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      context.log.warn({ open: context.connections.size }, 'fastify-plezi: shutdownTimeout reached, terminating connections')
      resolve()
    }, context.options.shutdownTimeout)
  })
  try {
    await Promise.all(connections.map((connection) => connection.shutdown(deadline)))
  } finally {
    clearTimeout(timer)
  }
}
