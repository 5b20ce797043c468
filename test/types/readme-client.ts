// README, "Node and bundlers".
import { PleziClient } from 'fastify-plezi/client'

const client = new PleziClient('ws://localhost:3000/calc', true) // autoreconnect
client.onopen = async () => console.log(await client.request({ event: 'sum', a: 1, b: 2 }))
