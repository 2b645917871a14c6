/**
 * The one table `npm run bench` prints: every figure beside the baseline it is compared with (measured
 * in the same run), their ratio, the target and whether it is met. The same rows go to the JSON file.
 */

export interface Row {
  section: string;
  figure: string;
  /** Median over runs unless the figure says otherwise. */
  value: number;
  unit: string;
  baseline?: { name: string; value: number } | undefined;
  /** value ÷ baseline, when the target is a ratio. */
  ratio?: number | undefined;
  target?: string | undefined;
  met?: boolean | undefined;
  /** The value of every run, for the JSON file. */
  runs?: number[] | undefined;
  note?: string | undefined;
}

export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const text = value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return unit ? `${text} ${unit}` : text;
}

/** The cells of each row as printed: value with its unit, baseline with its name, ratio, met. */
function cellsOf(rows: Row[]): string[][] {
  return rows.map((row) => [
    row.section,
    row.figure,
    formatValue(row.value, row.unit),
    row.baseline ? `${formatValue(row.baseline.value, row.unit)} (${row.baseline.name})` : '',
    // Three significant digits: two decimals would print 0.496 as "0.50×" beside "≥ 0.50×  NO".
    row.ratio === undefined ? '' : `${Number.isFinite(row.ratio) ? row.ratio.toPrecision(3) : 'n/a'}×`,
    row.target ?? '',
    row.met === undefined ? '' : row.met ? 'yes' : 'NO',
  ]);
}

const HEADER = ['Section', 'Figure', 'Value', 'Baseline', 'Ratio', 'Target', 'Met'];

function notesOf(rows: Row[]): string[] {
  return rows.filter((row) => row.note).map((row) => `${row.section} / ${row.figure}: ${row.note}`);
}

/** The table for a terminal: aligned columns, the section named once, notes below. */
export function renderTable(rows: Row[]): string {
  const cells = cellsOf(rows);
  const widths = HEADER.map((title, i) => Math.max(title.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [line(HEADER), line(widths.map((width) => '-'.repeat(width)))];
  let section = '';
  for (const values of cells) {
    if (values[0] === section) values[0] = '';
    else section = values[0]!;
    out.push(line(values));
  }
  const notes = notesOf(rows);
  if (notes.length > 0) out.push('', 'Notes:', ...notes.map((note) => `- ${note}`));
  return out.join('\n');
}

/** The same table in GitHub markdown, under the machine line, for the README to include. */
export function renderMarkdown(rows: Row[], machineLine: string): string {
  const escapePipes = (text: string) => text.replaceAll('|', '\\|');
  const line = (values: string[]) => `| ${values.map(escapePipes).join(' | ')} |`;
  const out = [
    machineLine,
    '',
    line(HEADER),
    line(HEADER.map((_, i) => (i >= 2 && i <= 4 ? '---:' : '---'))),
    ...cellsOf(rows).map(line),
  ];
  const notes = notesOf(rows);
  if (notes.length > 0) out.push('', ...notes.map((note) => `- ${escapePipes(note)}`));
  return `${out.join('\n')}\n`;
}
