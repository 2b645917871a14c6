import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { measureApprovals } from './approvals.js';
import { economyRows, runEconomy } from './economy.js';
import { measureIngress } from './ingress.js';
import type { BenchContext } from './lib/context.js';
import { machineInfo } from './lib/processes.js';
import { openBenchRedis } from './lib/redis.js';
import { type Row, renderMarkdown, renderTable } from './lib/table.js';
import { measurePipeline, type PipelineResult } from './pipeline.js';
import { measureScale } from './scale.js';

/**
 * `npm run bench [-- --quick] [-- --only=ingress,approvals,pipeline,scale,economy] [-- --compare=<checkout>]`
 *
 * Prints one table (stdout) and writes it, with every per-run figure and the machine, to
 * bench/results/latest.json, and as markdown under the machine line to bench/results/latest.md
 * (which the README includes); --quick and --only runs write latest.tmp.* instead. Progress goes
 * to stderr. Redis: a private redis-server on a free port, or REDIS_URL. The economy run is paced
 * by Slack's 1 message/s limit, so it starts first and runs beside the others (it needs little
 * CPU); it is as long as the rest together, and the two set the length of the whole bench.
 *
 * --compare=<checkout> runs another build's bot beside this one in every pipeline round (build it
 * there first: `npx tsc -p tsconfig.bench.json`), so a change is judged against its base in the
 * same run, not across runs minutes apart on a machine whose speed drifts.
 */

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const wanted = (name: string) => !only || only.includes(name);
const compareWith = args.find((arg) => arg.startsWith('--compare='))?.slice('--compare='.length);
const compare = compareWith ? resolve(compareWith, 'dist/bench/children') : undefined;
if (compare && !existsSync(join(compare, 'bot.js'))) {
  process.stderr.write(
    `--compare: ${compare}/bot.js is missing: run \`npx tsc -p tsconfig.bench.json\` in ${compareWith}\n`,
  );
  process.exit(2);
}

const started = Date.now();
const redis = await openBenchRedis();
const machine = machineInfo(redis.version);
const ctx: BenchContext = {
  quick,
  runs: quick ? 1 : 3,
  redis,
  compare,
  progress: (message) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`),
};
ctx.progress(
  `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, Redis ${machine.redis}${quick ? ' (quick)' : ''}`,
);

const rows: Row[] = [];
const details: Record<string, unknown> = {};
try {
  let settled = () => {};
  const economySettled = new Promise<void>((resolve) => {
    settled = resolve;
  });
  const economy = wanted('economy') ? runEconomy(ctx, settled) : undefined;
  // A failure here must not leave the background run unobserved (nor the wait below hanging).
  economy?.catch(() => undefined).finally(settled);
  // Its start (a bot process and 100 commands) is a burst of CPU: measure nothing beside that.
  if (economy) await economySettled;
  if (wanted('ingress')) {
    const result = await measureIngress(ctx);
    rows.push(...result.rows);
    details.ingress = result.details;
  }
  if (wanted('approvals')) {
    const result = await measureApprovals(ctx);
    rows.push(...result.rows);
    details.approvals = result.details;
  }
  let pipeline: PipelineResult | undefined;
  if (wanted('pipeline')) {
    pipeline = await measurePipeline(ctx);
    rows.push(...pipeline.rows);
    details.pipeline = pipeline.details;
  }
  if (wanted('scale')) {
    const result = await measureScale(ctx);
    rows.push(...result.rows);
    details.scale = result.details;
  }
  if (economy) {
    ctx.progress('waiting for the economy run (paced by the 1 message/s limit)');
    const run = await economy;
    rows.push(...economyRows(run, pipeline));
    details.economy = run;
  }
} finally {
  await redis.close();
}

const minutes = (Date.now() - started) / 60_000;
rows.push({
  section: 'bench',
  figure: `whole bench${quick ? ' (--quick)' : ''}`,
  value: minutes,
  unit: 'min',
  target: '< 10 min',
  met: minutes < 10,
});
const machineLine = `opsbot bench · ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB · Node ${machine.node} · Redis ${machine.redis} · ${new Date().toISOString()}${quick ? ' · --quick' : ''}`;
process.stdout.write(`${machineLine}\n\n${renderTable(rows)}\n`);
// Only a full run of every section replaces the results the README shows.
const name = quick || only ? 'latest.tmp' : 'latest';
const results = new URL('./results/', import.meta.url);
mkdirSync(results, { recursive: true });
writeFileSync(
  new URL(`${name}.json`, results),
  `${JSON.stringify({ at: new Date().toISOString(), quick, only, machine, rows, details }, null, 2)}\n`,
);
writeFileSync(new URL(`${name}.md`, results), renderMarkdown(rows, machineLine));
ctx.progress(`wrote bench/results/${name}.json and ${name}.md`);
