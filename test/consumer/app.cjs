// A consumer app in CommonJS (package.test.ts runs it against the packed package): require()
// of the ES module package, and fastify.register(require(...)) as Fastify users write it.
'use strict'
const Fastify = require('fastify')
const { Controller } = require('fastify-plezi')
const { PleziClient } = require('fastify-plezi/client')

class Chat extends Controller {
  static autoDispatch = true
  index () { return { page: 'chat' } }
  say (msg) { return { event: 'said', text: msg.text.toUpperCase() } }
}

async function main () {
  const fastify = Fastify()
  await fastify.register(require('fastify-plezi'))
  fastify.plezi.route('/chat', Chat)
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address()

  const http = await (await fetch(`http://127.0.0.1:${port}/chat`)).json()
  const client = new PleziClient(`ws://127.0.0.1:${port}/chat`)
  const said = await new Promise((resolve, reject) => {
    client.onopen = () => { client.request({ event: 'say', text: 'hello' }).then(resolve, reject) }
  })
  client.close()
  await fastify.close()
  console.log(JSON.stringify({ http, said: said.text }))
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
