/** How a database spells parameters: what SqlBuilder needs of a dialect. */
export interface ParameterSpelling {
  placeholder(index: number): string;
  cast(placeholder: string, type: SqlType): string;
}

/** Collects parameters while SQL text is written in order, emitting the dialect's placeholders. */
export class SqlBuilder {
  readonly params: unknown[] = [];

  constructor(private readonly dialect: ParameterSpelling) {}

  /** A placeholder for `value`, cast where the dialect needs the type spelled out. */
  p(value: unknown, type?: SqlType): string {
    this.params.push(value);
    const placeholder = this.dialect.placeholder(this.params.length);
    return type ? this.dialect.cast(placeholder, type) : placeholder;
  }

  /** A comma-separated list of placeholders. */
  list(values: readonly unknown[], type?: SqlType): string {
    return values.map((value) => this.p(value, type)).join(', ');
  }
}

/** The column types a parameter may need to be cast to. */
export type SqlType = 'bigint' | 'integer' | 'text' | 'double';

/** Ids per statement at most, where a statement lists them (well within every database's limit on parameters). */
const IDS_PER_STATEMENT = 1000;

/** `ids` in slices of at most IDS_PER_STATEMENT. */
export function* idChunks<T>(ids: readonly T[]): Generator<T[]> {
  for (let start = 0; start < ids.length; start += IDS_PER_STATEMENT)
    yield ids.slice(start, start + IDS_PER_STATEMENT);
}
