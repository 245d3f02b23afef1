import type { Logger } from 'winston';
import type { Destination } from '../core/destination.js';
import type { NamedDestination } from '../config/model.js';
import { createLocalDestination } from './local-destination.js';
import type { Sleep } from '../runs/backoff.js';
import { createSftpDestination } from './sftp-destination.js';

export function createDestination(config: NamedDestination, ctx: { configDir: string; integration: string; logger?: Logger; sleep?: Sleep }): Destination {
  switch (config.kind) {
    case 'sftp':
      return createSftpDestination(config, ctx);
    case 'local':
      return createLocalDestination(config, ctx.integration);
  }
}
