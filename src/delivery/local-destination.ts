import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FerryError } from '../core/errors.js';
import type { DeliveryReceipt, DeliveryRequest, Destination } from '../core/destination.js';
import type { NamedDestination } from '../config/model.js';
import { isLeftoverTempOf, tempPathFor } from './temp-name.js';

type LocalConfig = Extract<NamedDestination, { kind: 'local' }>;

/**
 * Delivery to a local or mounted folder: copy to a temporary name, then rename into place. Abort stops the copy and
 * removes the temporary files; once the renames have begun they finish (as for SFTP), so a receipt means every file
 * is in place and an `aborted` error means none is.
 */
export function createLocalDestination(config: LocalConfig, integration: string): Destination {
  const mode = parseInt(config.fileMode, 8);
  const target = `file://${config.basePath}`;
  const tmpOf = (req: DeliveryRequest) => tempPathFor(req.remotePath, req.runId, path);
  const fail = (req: DeliveryRequest, err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    const denied = code === 'EACCES' || code === 'EPERM';
    return new FerryError(denied ? 'destination_permission' : 'upload', `integration ${integration}: destination ${config.id}: cannot write ${req.remotePath} (${code ?? 'error'})`, {
      integration,
      field: `destinations.${config.id}.basePath`,
      cause: err,
    });
  };

  const removeLeftovers = async (req: DeliveryRequest) => {
    const dir = path.dirname(req.remotePath);
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.isFile() && isLeftoverTempOf(path.basename(req.remotePath), e.name, req.runId)) await fs.rm(path.join(dir, e.name), { force: true }).catch(() => undefined);
    }
  };

  const deliverAll = async (requests: readonly DeliveryRequest[]): Promise<DeliveryReceipt[]> => {
    const signals = [...new Set(requests.flatMap((r) => (r.signal ? [r.signal] : [])))];
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const staged: string[] = [];
    let committing = false;
    try {
      for (const req of requests) {
        signal?.throwIfAborted();
        const tmp = tmpOf(req);
        try {
          await fs.mkdir(path.dirname(req.remotePath), { recursive: true, mode: 0o700 });
          staged.push(tmp);
          await pipeline(createReadStream(req.localPath), createWriteStream(tmp, { mode }), signal ? { signal } : {});
          await fs.chmod(tmp, mode);
        } catch (err) {
          throw signal?.aborted ? err : fail(req, err);
        }
      }
      // The last point where an abort is honoured: the renames are quick and run to the end.
      signal?.throwIfAborted();
      committing = true;
      for (const req of requests) {
        try {
          await fs.rename(tmpOf(req), req.remotePath);
          staged.shift();
        } catch (err) {
          throw fail(req, err);
        }
      }
      for (const req of requests) await removeLeftovers(req);
    } catch (err) {
      if (signal?.aborted && !committing) {
        throw new FerryError('aborted', `integration ${integration}: destination ${config.id}: the delivery to ${target} was stopped before any file was moved into place`, { integration, cause: err });
      }
      throw err;
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
