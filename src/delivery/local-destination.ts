import fs from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../core/errors.js';
import type { DeliveryReceipt, DeliveryRequest, Destination } from '../core/destination.js';
import type { NamedDestination } from '../config/model.js';

type LocalConfig = Extract<NamedDestination, { kind: 'local' }>;

/** Delivery to a local or mounted folder: copy to a temporary name, then rename into place. */
export function createLocalDestination(config: LocalConfig, integration: string): Destination {
  return {
    kind: 'local',
    async deliver(req: DeliveryRequest): Promise<DeliveryReceipt> {
      const mode = parseInt(config.fileMode, 8);
      const dir = path.dirname(req.remotePath);
      const tmp = path.join(dir, `.${path.basename(req.remotePath)}.ferry-${req.runId}.part`);
      try {
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        await fs.copyFile(req.localPath, tmp);
        await fs.chmod(tmp, mode);
        await fs.rename(tmp, req.remotePath);
      } catch (err) {
        await fs.rm(tmp, { force: true });
        throw new FerryError('upload', `integration ${integration}: destination ${config.id}: cannot write ${req.remotePath} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
          integration,
          field: `destinations.${config.id}.basePath`,
          cause: err,
        });
      }
      return { remotePath: req.remotePath, bytes: req.bytes, target: `file://${config.basePath}` };
    },
  };
}
