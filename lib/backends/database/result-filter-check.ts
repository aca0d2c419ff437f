import { resultFilterCheck } from '../result-filter-check.js';
import { VARCHAR_LENGTHS } from './task-columns.js';

/** The checks of the results filters, by the longest value each column holds. */
export const { checkValue: checkFilterValue, checkFilter: checkResultFilter } =
  resultFilterCheck({
    id: VARCHAR_LENGTHS.id,
    taskName: VARCHAR_LENGTHS.name,
    status: VARCHAR_LENGTHS.short,
    queue: VARCHAR_LENGTHS.short,
  });
