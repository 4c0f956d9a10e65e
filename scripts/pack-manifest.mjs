// prepack / postpack: the package.json inside the tarball is the consumer's, not the developer's.
//
//   node scripts/pack-manifest.mjs clean     (prepack)  backs package.json up to .tmp/package.json.prepack and
//                                                       writes it without `devDependencies`, `overrides` and the
//                                                       development scripts
//   node scripts/pack-manifest.mjs restore   (postpack) puts the backup back, byte for byte
//
// npm runs prepack and postpack around `npm pack` and `npm publish` (also with --dry-run). If a pack fails between
// the two, postpack does not run: the next `clean` (or a manual `restore`) notices the leftover backup and restores
// it first, so the developer's package.json is never lost.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"

const root = resolve(import.meta.dirname, "..")
const manifestPath = join(root, "package.json")
const backupPath = join(root, ".tmp", "package.json.prepack")

/** Fields that mean nothing to a consumer of the published package. */
const DEVELOPMENT_FIELDS = ["devDependencies", "overrides", "packageManager", "devEngines"]
/** Scripts npm runs on a consumer's machine; every other script is for development and is dropped. */
const CONSUMER_SCRIPTS = ["preinstall", "install", "postinstall"]

const restore = () => {
  if (!existsSync(backupPath)) return false
  renameSync(backupPath, manifestPath)
  return true
}

const command = process.argv[2]
if (command === "clean") {
  if (restore()) process.stderr.write("pack-manifest: restored package.json left over from an interrupted pack\n")
  const original = readFileSync(manifestPath, "utf8")
  const manifest = JSON.parse(original)
  for (const field of DEVELOPMENT_FIELDS) delete manifest[field]
  const scripts = Object.fromEntries(
    Object.entries(manifest.scripts ?? {}).filter(([name]) => CONSUMER_SCRIPTS.includes(name))
  )
  if (Object.keys(scripts).length > 0) manifest.scripts = scripts
  else delete manifest.scripts
  mkdirSync(join(root, ".tmp"), { recursive: true })
  writeFileSync(backupPath, original)
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`)
} else if (command === "restore") {
  restore()
} else {
  process.stderr.write("usage: node scripts/pack-manifest.mjs clean|restore\n")
  process.exit(2)
}
