// The npm mirror on our build machines lacks other platforms' builds of a few native packages
// (biome, msgpackr-extract). `npm install` then silently leaves them out of package-lock.json and
// `npm ci` refuses the lockfile. This adds the entries a full registry would have written, with
// their os/cpu/libc, so `npm ci` skips them as foreign platforms instead of failing.
// Run after `npm install` whenever the lockfile is regenerated.
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const platformOf = (name) => {
  const m = /-(android|darwin|linux|win32|freebsd)-(arm64|x64|arm|ia32)(-(musl|gnu))?$/.exec(name);
  if (!m) return undefined;
  return { os: [m[1]], cpu: [m[2]], ...(m[4] === 'musl' ? { libc: ['musl'] } : {}) };
};

let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [dep, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (lock.packages[key] || lock.packages[`${path}/${key}`]) continue;
    const platform = platformOf(dep);
    if (!platform) continue;
    lock.packages[key] = { version: range.replace(/^[\^~=]/, ''), optional: true, ...platform };
    added += 1;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} foreign-platform optional entries`);
