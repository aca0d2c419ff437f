import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { User } from './user.entity.js';

/** Writes users through the manager of the caller's transaction. */
@Injectable()
export class UsersStore {
  create(manager: EntityManager, email: string): Promise<User> {
    return manager.save(manager.create(User, { email }));
  }
}
