// `this.params`: route params over the body over the query string, without prototype tricks.
import type { FastifyRequest } from 'fastify'
import type { Params } from '../controller.js'

function assign (target: Params, source: unknown): void {
  if (source === null || typeof source !== 'object' || Array.isArray(source) || Buffer.isBuffer(source)) return
  for (const key of Object.keys(source)) {
    // a JSON key "__proto__" would otherwise replace the prototype of `target`
    if (key === '__proto__') continue
    const value = (source as Record<string, unknown>)[key]
    if (value !== undefined && value !== '') target[key] = value
  }
}

export function buildParams (request: FastifyRequest, withBody: boolean): Params {
  const params: Params = {}
  assign(params, request.query)
  if (withBody) assign(params, request.body)
  assign(params, request.params)
  return params
}
