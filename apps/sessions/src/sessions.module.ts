import { Module, type DynamicModule } from '@nestjs/common';
import { BUS, MessagingModule, OutboxRelay, TransactionalOutbox, type Bus } from '@runyard/messaging';
import { DataSource } from 'typeorm';
import { MessagesHandler } from './messages/messages.handler.js';
import { MessageAppender } from './messages/message-appender.service.js';
import { MessagesRepository } from './messages/messages.repository.js';
import { MessagesService } from './messages/messages.service.js';
import { SessionsHandler } from './sessions/sessions.handler.js';
import { SessionsRepository } from './sessions/sessions.repository.js';
import { SessionsService } from './sessions/sessions.service.js';
import { RunMessagesConsumer } from './turns/run-messages.consumer.js';
import { RunMessagesService } from './turns/run-messages.service.js';
import { TurnsHandler } from './turns/turns.handler.js';
import { TurnsService } from './turns/turns.service.js';

/** Queue group shared by every replica of the sessions service: each request goes to one of them. */
export const SESSIONS_QUEUE_GROUP = 'sessions';

export interface SessionsModuleDeps {
  bus: Bus;
  /** Initialised and migrated; owned (and closed) by the caller. */
  dataSource: DataSource;
}

/**
 * The sessions service: its bus handlers, services and repositories, and the consumer that records
 * the messages runs post, over the bus and data source it is given.
 */
@Module({})
export class SessionsModule {
  static register(deps: SessionsModuleDeps): DynamicModule {
    return {
      module: SessionsModule,
      imports: [MessagingModule.forFeature({ queueGroup: SESSIONS_QUEUE_GROUP })],
      providers: [
        { provide: BUS, useValue: deps.bus },
        { provide: DataSource, useValue: deps.dataSource },
        OutboxRelay,
        TransactionalOutbox,
        SessionsRepository,
        SessionsService,
        SessionsHandler,
        MessagesRepository,
        MessageAppender,
        MessagesService,
        MessagesHandler,
        TurnsService,
        TurnsHandler,
        RunMessagesService,
        RunMessagesConsumer,
      ],
    };
  }
}
