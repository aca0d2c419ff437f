import { Injectable, Module } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { registersProviderClass } from '../../lib/dispatch/find-provider.js';

// Stands for an integration's class, e.g. @nestjs-cls/transactional's TransactionHost.
@Injectable()
class TransactionHost {}

@Injectable()
class Other {}

@Module({ providers: [TransactionHost], exports: [TransactionHost] })
class IntegrationModule {}

describe('registersProviderClass', () => {
  it('finds a class provider of that name in an imported module', async () => {
    const app = await Test.createTestingModule({
      imports: [IntegrationModule],
      providers: [Other],
    }).compile();
    try {
      const modules = app.get(ModulesContainer);
      expect(registersProviderClass(modules, 'TransactionHost')).toBe(true);
      expect(registersProviderClass(modules, 'Other')).toBe(true);
      expect(registersProviderClass(modules, 'Missing')).toBe(false);
    } finally {
      await app.close();
    }
  });

  it('ignores string and symbol tokens of that name', async () => {
    const app = await Test.createTestingModule({
      providers: [
        { provide: 'TransactionHost', useValue: {} },
        { provide: Symbol('TransactionHost'), useValue: {} },
      ],
    }).compile();
    try {
      expect(
        registersProviderClass(app.get(ModulesContainer), 'TransactionHost'),
      ).toBe(false);
    } finally {
      await app.close();
    }
  });
});
