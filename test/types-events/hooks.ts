// ControllerHooks: the lifecycle hooks' signatures are checked, none needs `override`.
import { Controller, type ControllerHooks } from '../../lib/index.js'
import type { LIFECYCLE_HOOKS } from '../../lib/method-table.js'
import { expectType, type Equal } from './expect.js'

// the interface names exactly the hooks the router knows
expectType<Equal<keyof ControllerHooks, typeof LIFECYCLE_HOOKS[number]>>()

export class Good extends Controller implements ControllerHooks {
  async preConnect () {
    if (this.request.headers.authorization === undefined) {
      this.reply?.code(401)
      return false
    }
    return true
  }

  onOpen () { return this.subscribe('room') }
  onMessage (data: string | Buffer) { this.write(data) }
  onDrained () {}
  onShutdown () { return this.write('bye') } // a hook's return value is ignored
  async onClose () {}
}

export class Undecided extends Controller implements ControllerHooks {
  preConnect () {} // undefined accepts, as in Plezi
}

export class Yes extends Controller implements ControllerHooks {
  // @ts-expect-error 2416 preConnect returns a boolean (or nothing), not 'yes'
  preConnect (): 'yes' { return 'yes' }
}

export class AsyncYes extends Controller implements ControllerHooks {
  // @ts-expect-error 2416 nor a promise of 'yes'
  async preConnect () { return 'yes' as const }
}

export class TextOnly extends Controller implements ControllerHooks {
  // @ts-expect-error 2416 binary frames arrive as Buffer
  onMessage (data: string) { void data }
}

export class Wrong extends Controller implements ControllerHooks {
  // @ts-expect-error 2416 onOpen takes no argument
  onOpen (name: string) { void name }
}

export class Overridden extends Controller {
  // @ts-expect-error 4117 hooks are not declared on the base class: no `override` (nor room for one)
  override onClose () {}
}
