/**
 * HTML written with a tagged template: every interpolated value is escaped
 * unless it is already `Html` (a fragment built the same way), so text from
 * task data (arguments, metadata, errors, names) can never become markup.
 */
export class Html {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Text as HTML that shows it as it is, safe in element content and in quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (char) => ESCAPES[char]);
}

/** An interpolated value: a fragment as it is, a list joined, null and undefined as nothing, anything else escaped text. */
function render(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/** The tag of HTML templates: `html\`<td>${name}</td>\``. */
export function html(
  strings: TemplateStringsArray,
  ...values: unknown[]
): Html {
  let text = strings[0];
  values.forEach((value, i) => {
    text += render(value) + strings[i + 1];
  });
  return new Html(text);
}
