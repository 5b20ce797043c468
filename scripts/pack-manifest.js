// `npm pack` and `npm publish` ship a package.json without the `prepare` build script.
// `prepare` is what builds dist/ for a clone (`npm install`) and for a git dependency, so the
// repository keeps it; but a packed package has dist/ inside, and npm 11 lists the `prepare`
// of a package installed from a tarball as an install script to review. prepack: build, then
// strip it (the original kept beside it); postpack: put the original back.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const manifest = join(root, 'package.json')
const original = join(root, 'package.json.orig')

/** The manifest as packed: no script that npm runs (or asks about) when a user installs it. */
function packedManifest (pkg) {
  const { prepare, preinstall, install, postinstall, ...scripts } = pkg.scripts ?? {}
  return { ...pkg, scripts }
}

function restore () {
  if (existsSync(original)) renameSync(original, manifest)
}

function strip () {
  restore() // an interrupted earlier pack left its original behind
  const text = readFileSync(manifest, 'utf8')
  writeFileSync(original, text)
  const tmp = `${manifest}.tmp`
  writeFileSync(tmp, `${JSON.stringify(packedManifest(JSON.parse(text)), null, 2)}\n`)
  renameSync(tmp, manifest) // readers never see half a file
}

const command = process.argv[2]
if (command === 'prepack') {
  execFileSync(process.execPath, [join(root, 'scripts/build.js')], { stdio: 'inherit', cwd: root })
  strip()
} else if (command === 'postpack') {
  restore()
} else if (command !== undefined) {
  throw new Error(`usage: node scripts/pack-manifest.js prepack|postpack (got ${command})`)
}
