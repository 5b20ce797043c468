// Every command of the Redis presence store goes through one pipeline per turn of the event
// loop: a burst of tracks is one write to the socket, and writes and reads keep one order
// (a list sent after a track sees it; a change is published after its write).
import type { Redis } from 'ioredis'
import { pipelineOf, type ScriptPipeline, type WithScripts } from './redis-scripts.js'

export type Reply = [Error | null, unknown]

export class Batch {
  readonly #conn: WithScripts<Redis>
  #pipeline: ScriptPipeline | undefined
  #sent: Promise<Reply[]> = Promise.resolve([])
  /** Commands added once per pipeline, by tag. */
  #shared = new Map<string, Promise<Reply[]>>()

  constructor (conn: WithScripts<Redis>) {
    this.#conn = conn
  }

  /** Adds commands to this turn's pipeline; resolves to their replies, errors included. */
  add (build: (p: ScriptPipeline) => unknown): Promise<Reply[]> {
    let p = this.#pipeline
    if (p === undefined) {
      const next = p = this.#pipeline = pipelineOf(this.#conn)
      this.#shared = new Map()
      this.#sent = new Promise<Reply[]>((resolve) => {
        queueMicrotask(() => {
          this.#pipeline = undefined
          resolve(next.exec().then((replies) => replies ?? []))
        })
      })
    }
    const start = lengthOf(p)
    build(p)
    const end = lengthOf(p)
    return this.#sent.then((replies) => replies.slice(start, end))
  }

  /** Adds commands once to this turn's pipeline, however many callers ask for them. */
  once (tag: string, build: (p: ScriptPipeline) => unknown): Promise<Reply[]> {
    if (this.#pipeline !== undefined) {
      const shared = this.#shared.get(tag)
      if (shared !== undefined) return shared
    }
    const sent = this.add(build)
    this.#shared.set(tag, sent)
    return sent
  }

  /** Adds commands; resolves to their values, or rejects with the first error. */
  async values (build: (p: ScriptPipeline) => unknown): Promise<unknown[]> {
    const replies = await this.add(build)
    return replies.map(([err, value]) => {
      if (err) throw err
      return value
    })
  }
}

function lengthOf (p: ScriptPipeline): number {
  return (p as unknown as { length: number }).length
}
