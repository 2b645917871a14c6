/**
 * How opsbot hands keys and arguments to its Lua scripts: by name, encoded in one place. The keys
 * still travel in KEYS (Redis Cluster routes a script by them), in the order of an object's
 * entries; their names, and every other argument, go in ARGV[1] as one JSON document. A script
 * starts with NAMED_ARGS and then reads `K.record`, `A.fields`… instead of `KEYS[7]`,
 * `ARGV[i + 1 + 2 * items]`, so a script and its caller cannot drift apart by a position.
 *
 * Values are JSON: strings, numbers (integers stay exact up to 2^53, which covers epoch
 * milliseconds), booleans, arrays and objects. An absent (undefined) argument is absent in Lua
 * (`nil`); a `null` would arrive as cjson.null, so none is ever sent.
 */

/** Lua: decodes ARGV[1] into `A` (the arguments) and maps the key names onto KEYS into `K`. */
export const NAMED_ARGS = `
local A = cjson.decode(ARGV[1])
local K = {}
for i, name in ipairs(A.keys) do K[name] = KEYS[i] end
`;

/**
 * The argument list for a script defined without a fixed key count: the number of keys, the keys,
 * then the arguments with the key names. Keys whose value is undefined are left out.
 */
export function namedArgs(keys: Record<string, string | undefined>, args: object): [number, ...string[]] {
  const names: string[] = [];
  const values: string[] = [];
  for (const [name, key] of Object.entries(keys)) {
    if (key === undefined) continue;
    names.push(name);
    values.push(key);
  }
  return [values.length, ...values, JSON.stringify({ ...args, keys: names })];
}
