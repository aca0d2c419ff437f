import { Injectable, Logger } from '@nestjs/common';
import { Task } from 'nestjs-tasks';
import { DataSource } from 'typeorm';
import { Order } from './order.entity.js';

@Injectable()
export class ShippingService {
  private readonly logger = new Logger(ShippingService.name);

  constructor(private readonly dataSource: DataSource) {}

  /** Runs in the `tasks:work` process, never in the web process. */
  @Task({ queueName: 'shipping' })
  async ship(orderId: number): Promise<{ orderId: number; shipped: boolean }> {
    this.logger.log(`Shipping order ${orderId}`);
    await this.dataSource
      .getRepository(Order)
      .update({ id: orderId }, { status: 'SHIPPED' });
    return { orderId, shipped: true };
  }
}
