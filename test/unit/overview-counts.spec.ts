import { overviewFragment } from '../../lib/dashboard/pages/overview.page.js';

const context = { base: '/tasks', readOnly: true, csrf: 'token' };

function render(
  counts: {
    queue: string;
    status: string;
    count: number;
    precision?: 'exact' | 'estimate' | 'more-than';
  }[],
  browsable = true,
): string {
  return String(
    overviewFragment(context, {
      at: new Date('2026-01-05T10:00:00Z'),
      periodic: [],
      backends: [
        {
          alias: 'default',
          backendClass: 'DatabaseBackend',
          status: { counts, workers: [] },
          activity: browsable ? [] : null,
        },
      ],
    }),
  );
}

describe('the overview counts', () => {
  it('shows exact counts per queue, with no legend', () => {
    const page = render([
      { queue: 'default', status: 'READY', count: 3, precision: 'exact' },
      { queue: 'emails', status: 'SUCCESSFUL', count: 7 },
    ]);
    expect(page).toContain('>3</a');
    expect(page).not.toContain('All queues');
    expect(page).not.toContain('(estimate)');
  });

  it('labels an estimate and a count that stopped, on a row of every queue, with a legend', () => {
    const page = render([
      {
        queue: '*',
        status: 'SUCCESSFUL',
        count: 9_990_000,
        precision: 'estimate',
      },
      { queue: '*', status: 'READY', count: 10_000, precision: 'more-than' },
      { queue: 'default', status: 'RUNNING', count: 4, precision: 'exact' },
      { queue: 'emails', status: 'RUNNING', count: 2, precision: 'exact' },
    ]);
    expect(page).toContain('All queues');
    expect(page).toContain('~9990000 (estimate)');
    expect(page).toContain('&gt; 10000');
    // The exact RUNNING counts added up on the row of every queue.
    expect(page).toMatch(
      /data-queue="\*"[\s\S]*data-status="RUNNING"[\s\S]*?>6</,
    );
    expect(page).toContain('read off the database');
  });

  it('links no count and shows no last-hour figures for a backend that offers no result browsing', () => {
    const page = render(
      [{ queue: 'default', status: 'READY', count: 3, precision: 'exact' }],
      false,
    );
    expect(page).toMatch(/data-status="READY">\s*3\s*</);
    expect(page).not.toContain('/results');
    expect(page).toContain('offers no result browsing or activity');
    expect(page).not.toContain('Last hour:');
  });
});
