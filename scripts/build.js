// Build: TypeScript → dist/ (ESM + .d.ts), then the browser bundle of PleziClient.
import { execFileSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
rmSync(join(root, 'dist'), { recursive: true, force: true })
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root })
const clientBuild = join(root, 'scripts/build-client.js')
if (existsSync(clientBuild)) execFileSync(process.execPath, [clientBuild], { stdio: 'inherit', cwd: root })
