// IIFE entry: `window.PleziClient` is the constructor itself, as with Plezi's client.js.
import { PleziClient } from './client.js'

Object.assign(globalThis, { PleziClient })
