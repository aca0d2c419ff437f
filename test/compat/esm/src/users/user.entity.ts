import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('compat_users')
export class User {
  @PrimaryGeneratedColumn()
  id: number;

  @Column()
  email: string;
}
