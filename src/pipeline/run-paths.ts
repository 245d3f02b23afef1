import type { Integration } from '../config/model.js';
import { renderRemotePath } from '../delivery/remote-path.js';

/**
 * Where a run's file goes: the integration's remotePath template rendered for the run (its scheduled time, or when it
 * ran) inside the destination's base folder. A Clever set's template is a folder ("{district}/clever/"), and each
 * file goes into it under its own name.
 */
export function renderRunPath(integration: Integration, runId: number, at: Date, fileName?: string): string {
  const template = fileName === undefined ? integration.remotePath : `${integration.remotePath}${fileName}`;
  return renderRemotePath(
    template,
    integration.destination.basePath,
    { district: integration.district.id, integration: integration.id, extract: integration.extract.name, runId: String(runId), at, timezone: integration.schedule.timezone },
    integration.id,
  );
}
