import { html, type Html } from '../html.js';
import { layout, type PageContext } from './layout.js';

/** A page saying what went wrong, under its HTTP status. */
export function errorPage(
  ctx: PageContext,
  status: number,
  message: string,
): Html {
  return layout(
    ctx,
    `Error ${status}`,
    html`<h2>Error ${status}</h2>
      <p class="notice" role="alert">${message}</p>`,
  );
}
