import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** The app's business data: an order, shipped by a task run in the worker. */
@Entity('sample_orders')
export class Order {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  item!: string;

  @Column({ default: 'PENDING' })
  status!: 'PENDING' | 'SHIPPED';

  @Column({ type: 'uuid', nullable: true })
  taskId!: string | null;
}
