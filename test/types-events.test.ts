// Type tests for EventsOf and ControllerHooks: test/types-events/*.ts under strict and
// noImplicitOverride. Every `// @ts-expect-error NNNN why` must fail for the reason it names:
// compiled once with the directives turned into plain comments, each must have error NNNN on
// the line below it, and no other line of the fixtures may have an error. (That also proves
// the fixtures compile as written, with every directive used.) Only the fixtures are checked:
// lib/ and client/ are type-checked by `npm run typecheck`, the shipped .d.ts without
// skipLibCheck by package.test.ts.
import t from 'tap'
import ts from 'typescript'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const dir = fileURLToPath(new URL('./types-events/', import.meta.url))
const files = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f))
const options: ts.CompilerOptions = {
  strict: true,
  noImplicitOverride: true,
  noUnusedLocals: true,
  noEmit: true,
  skipLibCheck: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  types: ['node']
}
const DIRECTIVE = /\/\/ @ts-expect-error(?: (\d{4,5})\b)?/

interface Expected { file: string, line: number, code: number | undefined }

function expectations (): Expected[] {
  return files.flatMap((file) => readFileSync(file, 'utf8').split('\n').flatMap((text, i) => {
    const match = DIRECTIVE.exec(text)
    return match ? [{ file, line: i + 1, code: match[1] === undefined ? undefined : Number(match[1]) }] : []
  }))
}

/** The fixtures' diagnostics, with the directives turned into plain comments. */
function compile (): Array<{ file: string, line: number, code: number, text: string }> {
  const host = ts.createCompilerHost(options)
  const read = host.readFile.bind(host)
  host.readFile = (name) => {
    const text = read(name)
    return text !== undefined && files.includes(name) ? text.replaceAll('@ts-expect-error', 'expected error:') : text
  }
  const program = ts.createProgram(files, options, host)
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...files.flatMap((file) => {
      const source = program.getSourceFile(file)
      return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
    })
  ]
  return diagnostics.map((d) => {
    const file = d.file?.fileName ?? '(global)'
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0
    return { file, line, code: d.code, text: `${file.replace(dir, '')}:${line} TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}` }
  })
}

t.test('each @ts-expect-error fails for the reason it names, and nothing else fails', async (t) => {
  t.ok(files.length >= 2, `fixtures: ${files.map((f) => f.replace(dir, '')).join(', ')}`)
  const expected = expectations()
  t.ok(expected.length >= 15, `${expected.length} expected errors`)
  t.same(expected.filter((e) => e.code === undefined).map((e) => `${e.file.replace(dir, '')}:${e.line}`), [],
    'each @ts-expect-error names the error code it expects')
  const found = compile()
  for (const { file, line, code } of expected) {
    const at = found.filter((d) => d.file === file && d.line === line + 1)
    t.ok(at.some((d) => d.code === code), `${file.replace(dir, '')}:${line + 1} fails with TS${code}`, { found: at.map((d) => d.text) })
  }
  const elsewhere = found.filter((d) => !expected.some((e) => e.file === d.file && e.line + 1 === d.line))
  t.same(elsewhere.map((d) => d.text), [], 'no errors on other lines')
})
