import { resultFilterCheck } from '../result-filter-check.js';

/** The longest filter value taken: no id, task or queue name is longer. */
const MAX_FILTER_LENGTH = 255;

/** The checks of the results filters (no job holds a longer id or name). */
export const { checkValue, checkFilter } = resultFilterCheck({
  id: MAX_FILTER_LENGTH,
  taskName: MAX_FILTER_LENGTH,
  status: MAX_FILTER_LENGTH,
  queue: MAX_FILTER_LENGTH,
});
