// Markdown rendering of benchmark results: one table per section (ops/s, median time per operation,
// margin of error, ratio to the section's baseline), the targets, and the whole block of one result.

import { machineLine } from './machine.ts';
import type { BenchResult, Section, Target } from './results.ts';

/** 12_345_678 → "12.3 M"; 1_234 → "1.23 k". */
export function formatRate(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toPrecision(3)} G`;
  if (n >= 1e6) return `${(n / 1e6).toPrecision(3)} M`;
  if (n >= 1e3) return `${(n / 1e3).toPrecision(3)} k`;
  return n.toPrecision(3);
}

/** Nanoseconds with a fitting unit: "8.41 ns", "12.3 µs", "4.56 ms", "1.87 s". */
export function formatNs(ns: number): string {
  if (ns >= 1e9) return `${(ns / 1e9).toPrecision(3)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toPrecision(3)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toPrecision(3)} µs`;
  return `${ns.toPrecision(3)} ns`;
}

function formatRatio(r: number): string {
  return r >= 100 ? `${Math.round(r)}×` : `${r.toPrecision(3)}×`;
}

/** "event" → "events", "query" → "queries". */
function plural(unit: string): string {
  return unit.endsWith('y') ? `${unit.slice(0, -1)}ies` : `${unit}s`;
}

/**
 * The table of one section, as markdown lines. The ratio column compares throughput (higher is
 * faster), or time when the section has a `statistic` such as "p99" (lower is faster).
 */
export function sectionTable(section: Section): string {
  const base = section.rows.find((r) => r.name === section.baseline);
  const byTime = section.statistic !== undefined;
  const lines = [
    `| task | ${plural(section.unit)}/s | per ${section.unit} (${section.statistic ?? section.timeLabel ?? 'median'}) | ±rme | ${byTime ? 'time ' : ''}vs ${section.baseline} |`,
    '|---|--:|--:|--:|--:|',
  ];
  for (const r of section.rows) {
    const ratio =
      base === undefined
        ? ''
        : formatRatio(byTime ? r.medianNs / base.medianNs : r.opsPerSec / base.opsPerSec);
    lines.push(
      `| ${r.name} | ${formatRate(r.opsPerSec)} | ${formatNs(r.medianNs)} | ${r.rmePct.toFixed(1)} % | ${ratio} |`,
    );
  }
  return lines.join('\n');
}

/** The targets of a result, as a markdown table. */
export function targetsTable(targets: readonly Target[]): string {
  const lines = ['| target | measured | result |', '|---|--:|---|'];
  for (const t of targets) {
    // A goal like 1.02 needs a fourth digit to show on which side of it the ratio fell.
    const measured = Number.isInteger(t.goal * 10) ? formatRatio(t.ratio) : `${t.ratio.toFixed(4)}×`;
    lines.push(`| ${t.label} | ${measured} | ${t.reached ? 'reached' : '**missed**'} |`);
  }
  return lines.join('\n');
}

/** Everything one result contributes to BENCHMARKS.md. */
export function resultMarkdown(result: BenchResult): string {
  const parts = [
    `### ${result.title} (\`bench/${result.name}.bench.ts\`)`,
    `Machine: ${machineLine(result.machine)}; run ${result.machine.date.slice(0, 16).replace('T', ' ')} UTC.  `,
    `Method: ${result.method}  `,
    `Peers: ${result.peers.join('; ')}.`,
  ];
  for (const s of result.sections) parts.push(`**${s.title}**\n\n${sectionTable(s)}`);
  if (result.targets.length > 0) parts.push(`**Targets**\n\n${targetsTable(result.targets)}`);
  for (const n of result.notes) parts.push(n);
  return parts.join('\n\n');
}

/** Prints a section's table to the console (plain text is markdown; it reads fine either way). */
export function printSection(section: Section): void {
  console.log(`\n${section.title}\n`);
  console.log(sectionTable(section));
}
