// What `write(data)` puts in a frame (SPEC section 3): text for strings, the bytes of any
// binary value, JSON text for other values; what has no frame is a TypeError at the call.
import { PLZ_ERR_MESSAGE } from '../errors.js'

export interface Payload {
  data: string | Uint8Array
  binary: boolean
}

const BlobClass = (globalThis as { Blob?: abstract new () => object }).Blob

/** The frame payload of `data`; throws PLZ_ERR_MESSAGE for a value that has none. */
export function payloadOf (data: unknown): Payload {
  if (typeof data === 'string') return { data, binary: false }
  if (data instanceof Uint8Array) return { data, binary: true }
  if (data instanceof ArrayBuffer) return { data: new Uint8Array(data), binary: true }
  // typed arrays of any element size and DataView: the view's bytes, not its elements as JSON
  if (ArrayBuffer.isView(data)) return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), binary: true }
  if (typeof data === 'function' || typeof data === 'symbol' || typeof data === 'bigint' || data === undefined ||
      (BlobClass !== undefined && data instanceof BlobClass)) {
    throw new PLZ_ERR_MESSAGE(`write(): ${describe(data)} has no websocket frame; write a string, bytes or a JSON-serialisable value`)
  }
  let json: string | undefined
  try {
    json = JSON.stringify(data)
  } catch (err) {
    throw new PLZ_ERR_MESSAGE(`write(): the value cannot be serialised as JSON (${(err as Error).message})`)
  }
  // e.g. an object whose toJSON() returns undefined
  if (json === undefined) throw new PLZ_ERR_MESSAGE('write(): the value serialises to nothing')
  return { data: json, binary: false }
}

function describe (data: unknown): string {
  if (data === undefined) return 'undefined'
  if (typeof data === 'function') return 'a function'
  if (typeof data === 'symbol') return 'a symbol'
  if (typeof data === 'bigint') return 'a BigInt'
  return 'a Blob'
}
