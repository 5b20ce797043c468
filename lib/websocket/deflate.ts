// permessage-deflate payloads (RFC 7692) for messages compressed once, outside ws: raw deflate
// with a full window and a sync flush, without the 0x00 0x00 0xff 0xff the receiver adds back.
import { constants, deflateRawSync } from 'node:zlib'

const OPTIONS = { finishFlush: constants.Z_SYNC_FLUSH }

export function deflatePayload (payload: string | Uint8Array): Buffer {
  const out = deflateRawSync(typeof payload === 'string' ? Buffer.from(payload) : payload, OPTIONS)
  return out.subarray(0, out.length - 4)
}
