// The presence frames clients receive (SPEC 12), each built once and written to every
// presence subscriber of the channel.
import type { PresenceState } from './store.js'

export interface PresenceDiff {
  readonly joins: PresenceState
  readonly leaves: PresenceState
}

export function stateFrame (channel: string, state: PresenceState): string {
  return JSON.stringify({ event: '_presence_', channel, state })
}

export function diffFrame (channel: string, diff: PresenceDiff): string {
  return JSON.stringify({ event: '_presence_diff_', channel, joins: diff.joins, leaves: diff.leaves })
}
