import {
  resultsPage,
  type ResultsView,
} from '../../lib/dashboard/pages/results.page.js';

const ctx = { base: '/tasks', readOnly: true, csrf: 'token' };

function view(page: ResultsView['page']): ResultsView {
  return {
    backend: 'default',
    backends: ['default'],
    taskNames: [],
    filter: { queue: 'rare' },
    page,
    deep: false,
    asOf: 0,
  };
}

describe('the results page', () => {
  it('says when its search stopped short, and links to the older results', () => {
    const text = resultsPage(
      ctx,
      view({ results: [], next: '42', stoppedAfter: 10_000 }),
    ).text;
    expect(text).toContain('No result matches.');
    expect(text).toMatch(/searched the next\s+10,000 results/);
    expect(text).toMatch(
      /<a rel="next" href="\/tasks\/results\?backend=default&amp;queue=rare&amp;after=42">Search older results<\/a>/,
    );
  });

  it('links to the next page when the page filled', () => {
    const text = resultsPage(ctx, view({ results: [], next: '42' })).text;
    expect(text).not.toContain('searched the next');
    expect(text).toContain('>Next page</a>');
  });
});
