import type { Table } from './tables.js';

/** A table as aligned columns of plain text, for the terminal. */
export function tableAsText(table: Table): string {
  const widths = table.header.map((title, column) =>
    Math.max(title.length, ...table.rows.map((row) => row[column].length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) =>
        i >= table.numericFrom
          ? cell.padStart(widths[i])
          : cell.padEnd(widths[i]),
      )
      .join('  ')
      .trimEnd();
  return [
    table.title,
    '',
    line(table.header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...table.rows.map(line),
    '',
    ...table.notes,
  ].join('\n');
}
