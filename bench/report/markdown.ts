import type { Environment } from './environment.js';
import type { Table } from './tables.js';

function escape(cell: string): string {
  return cell.replace(/\|/g, '\\|');
}

function tableAsMarkdown(table: Table): string {
  const row = (cells: string[]) => `| ${cells.map(escape).join(' | ')} |`;
  const rule = table.header.map((_, i) =>
    i >= table.numericFrom ? '--:' : '---',
  );
  return [
    `### ${table.title}`,
    '',
    row(table.header),
    `| ${rule.join(' | ')} |`,
    ...table.rows.map(row),
    '',
    ...table.notes.map((note) => `${note}  `),
  ].join('\n');
}

/** A "Performance" section for a README: how and where, then the tables. */
export function resultsAsMarkdown(
  tables: Table[],
  environment: Environment,
  how: { args: string[]; runs: string; date: Date },
): string {
  const packages = Object.entries(environment.packages)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const command = ['npm run bench', ...(how.args.length ? ['--'] : [])]
    .concat(how.args)
    .join(' ');
  return [
    '## Performance',
    '',
    `Measured on ${how.date.toISOString().slice(0, 10)} with \`${command}\` ` +
      `(${how.runs}; ` +
      `see [bench/README.md](bench/README.md) for the method).`,
    '',
    `- Machine: ${environment.cpus}, ${environment.memory}, ${environment.os}`,
    `- Node ${environment.node}; nestjs-tasks ${environment.nestjsTasks}`,
    `- Servers: ${Object.values(environment.servers).join(', ') || 'none'}`,
    `- Packages: ${packages}`,
    '',
    ...tables.flatMap((table) => [tableAsMarkdown(table), '']),
  ].join('\n');
}
