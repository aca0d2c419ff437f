import { TaskRegistry } from '../../lib/discovery/task-registry.js';
import { StoredTaskDefinitions } from '../../lib/dispatch/stored-task-definitions.js';
import { newResultData } from '../../lib/task/task-result-data.js';
import type { TaskPort } from '../../lib/task/task-port.js';

const port: TaskPort = {
  validate: () => undefined,
  enqueue: async () => [],
  getResult: async () => {
    throw new Error('not used');
  },
  call: async () => undefined,
};

class Mailer {
  send(): void {}
}

describe('StoredTaskDefinitions', () => {
  let registry: TaskRegistry;
  let definitions: StoredTaskDefinitions;

  beforeEach(() => {
    registry = new TaskRegistry();
    registry.add({
      name: 'mail.send',
      site: 'Mailer.send',
      instance: new Mailer(),
      methodName: 'send',
      options: { maxAttempts: 3, timeout: 500 },
    });
    registry.define(port);
    definitions = new StoredTaskDefinitions(port, registry);
  });

  const stored = (changes: Record<string, unknown> = {}) => ({
    ...newResultData(registry.get('mail.send').definition, [], null),
    ...changes,
  });

  it('gives results stored alike one definition, with the registered options and the stored ones', () => {
    const first = definitions.resolve(stored({ priority: 5, queueName: 'q' }));
    const second = definitions.resolve(stored({ priority: 5, queueName: 'q' }));
    expect(second).toBe(first);
    expect(first).toMatchObject({
      name: 'mail.send',
      priority: 5,
      queueName: 'q',
      maxAttempts: 3,
      timeout: 500,
    });
  });

  it('gives results stored with another priority, queue, backend or runAfter a definition of their own', () => {
    const base = definitions.resolve(stored());
    const variants = [
      stored({ priority: 7 }),
      stored({ queueName: 'other' }),
      stored({ backend: 'secondary' }),
      stored({ runAfter: new Date(Date.UTC(2030, 0, 1)) }),
    ].map((data) => definitions.resolve(data));
    for (const variant of variants) expect(variant).not.toBe(base);
    expect(variants.map((v) => [v.priority, v.queueName, v.backend])).toEqual([
      [7, base.queueName, base.backend],
      [base.priority, 'other', base.backend],
      [base.priority, base.queueName, 'secondary'],
      [base.priority, base.queueName, base.backend],
    ]);
    expect(variants[3].runAfter?.toISOString()).toBe(
      '2030-01-01T00:00:00.000Z',
    );
    expect(
      definitions.resolve(stored({ runAfter: new Date(Date.UTC(2030, 0, 1)) })),
    ).toBe(variants[3]);
  });

  it('builds a default definition for a task not registered here, never shared with a later registration', () => {
    const data = stored({ taskName: 'gone.task' });
    const unknown = definitions.resolve(data);
    expect(unknown.name).toBe('gone.task');
    expect(definitions.resolve(data)).not.toBe(unknown);
  });
});
