/**
 * The built package (`npm run build`), which the benchmarks run: what users run. Loaded by URL, so that
 * type-checking the benchmarks does not need a build.
 */
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** `effect-throttles/redis` from `dist/`. */
export const builtRedis = async (): Promise<typeof import("effect-throttles/redis")> => {
  const url = new URL("../dist/redis.js", import.meta.url)
  if (!existsSync(url)) throw new Error(`${fileURLToPath(url)} is missing: run npm run build first`)
  return (await import(url.href)) as typeof import("effect-throttles/redis")
}
