import { toErrorRecord } from '../../lib/task/task-error-record.js';

describe('toErrorRecord', () => {
  it('records an Error with its class, message and stack', () => {
    const record = toErrorRecord(new RangeError('out of range'));
    expect(record.errorClass).toBe('RangeError');
    expect(record.message).toBe('out of range');
    expect(record.traceback).toContain('RangeError: out of range');
  });

  it('records a thrown plain object readably, as JSON', () => {
    expect(toErrorRecord({ code: 42 })).toEqual({
      errorClass: 'Object',
      message: '{"code":42}',
      traceback: '',
    });
  });

  it('records other thrown values as text', () => {
    expect(toErrorRecord('plain text').message).toBe('plain text');
    expect(toErrorRecord(7).errorClass).toBe('Number');
    expect(toErrorRecord(null)).toEqual({
      errorClass: 'null',
      message: 'null',
      traceback: '',
    });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(toErrorRecord(cyclic).message).toBe('[object Object]');
  });
});
