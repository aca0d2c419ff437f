import {
  BadRequestException,
  Body,
  Controller,
  Get,
  NotFoundException,
  Param,
  ParseIntPipe,
  Post,
} from '@nestjs/common';
import { TaskQueue } from 'nestjs-tasks';
import { DataSource } from 'typeorm';
import { Order } from './order.entity.js';
import { ShippingService } from './shipping.service.js';

@Controller('orders')
export class OrdersController {
  constructor(
    private readonly tasks: TaskQueue,
    private readonly dataSource: DataSource,
  ) {}

  /**
   * Saves the order and enqueues its shipping in one transaction: the task
   * row commits with the order, or neither does (an empty `item` is refused
   * after the enqueue, and rolls both back).
   */
  @Post()
  async create(@Body() body: { item?: string }) {
    return this.tasks.transaction(async (manager) => {
      const order = await manager.save(
        manager.create(Order, { item: body?.item ?? '' }),
      );
      const task = await this.tasks.enqueue(ShippingService, 'ship', order.id);
      if (!order.item) throw new BadRequestException('item is required');
      await manager.update(Order, { id: order.id }, { taskId: task.id });
      return { orderId: order.id, taskId: task.id, status: task.status };
    });
  }

  @Get(':id')
  async find(@Param('id', ParseIntPipe) id: number) {
    const order = await this.dataSource.getRepository(Order).findOneBy({ id });
    if (!order) throw new NotFoundException(`order ${id} does not exist`);
    const task = order.taskId ? await this.tasks.getResult(order.taskId) : null;
    return {
      order,
      task: task && {
        id: task.id,
        status: task.status,
        returnValue: task.status === 'SUCCESSFUL' ? task.returnValue : null,
        errors: task.errors,
      },
    };
  }
}
