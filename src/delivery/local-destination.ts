import fs from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../core/errors.js';
import type { DeliveryReceipt, DeliveryRequest, Destination } from '../core/destination.js';
import type { NamedDestination } from '../config/model.js';

type LocalConfig = Extract<NamedDestination, { kind: 'local' }>;

/** Delivery to a local or mounted folder: copy to a temporary name, then rename into place. */
export function createLocalDestination(config: LocalConfig, integration: string): Destination {
  const mode = parseInt(config.fileMode, 8);
  const target = `file://${config.basePath}`;
  const tmpOf = (req: DeliveryRequest) => path.join(path.dirname(req.remotePath), `.${path.basename(req.remotePath)}.ferry-${req.runId}.part`);
  const fail = (req: DeliveryRequest, err: unknown) =>
    new FerryError('upload', `integration ${integration}: destination ${config.id}: cannot write ${req.remotePath} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
      integration,
      field: `destinations.${config.id}.basePath`,
      cause: err,
    });

  const deliverAll = async (requests: readonly DeliveryRequest[]): Promise<DeliveryReceipt[]> => {
    const staged: string[] = [];
    try {
      for (const req of requests) {
        req.signal?.throwIfAborted();
        const tmp = tmpOf(req);
        try {
          await fs.mkdir(path.dirname(req.remotePath), { recursive: true, mode: 0o700 });
          staged.push(tmp);
          await fs.copyFile(req.localPath, tmp);
          await fs.chmod(tmp, mode);
        } catch (err) {
          throw fail(req, err);
        }
      }
      for (const req of requests) {
        try {
          await fs.rename(tmpOf(req), req.remotePath);
        } catch (err) {
          throw fail(req, err);
        }
      }
      staged.length = 0;
    } finally {
      for (const tmp of staged) await fs.rm(tmp, { force: true });
    }
    return requests.map((req) => ({ remotePath: req.remotePath, bytes: req.bytes, target }));
  };

  return {
    kind: 'local',
    deliverAll,
    async deliver(req: DeliveryRequest): Promise<DeliveryReceipt> {
      return (await deliverAll([req]))[0]!;
    },
  };
}
