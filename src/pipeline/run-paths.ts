import path from 'node:path';
import type { District, Extract, Integration, NamedDestination } from '../config/model.js';
import { FerryError } from '../core/errors.js';
import { renderRemotePath } from '../delivery/remote-path.js';

/** What rendering a run's path needs: an Integration, or the parts of one `ferry validate` has parsed. */
export interface RunPathTarget {
  readonly id: string;
  readonly remotePath: string;
  readonly district: Pick<District, 'id'>;
  readonly destination: Pick<NamedDestination, 'id' | 'basePath' | 'sharedBy'>;
  readonly extract: Pick<Extract, 'name'>;
  readonly schedule: Pick<Integration['schedule'], 'timezone'>;
}

/**
 * Where a run's file goes: the integration's remotePath template rendered for the run (its scheduled time, or when it
 * ran) inside the destination's base folder. A Clever set's template is a folder ("{district}/clever/"), and each
 * file goes into it under its own name.
 *
 * On a destination shared by several districts every path must lie in the district's own folder, `<district id>/`
 * under the base folder (write remotePath as "{district}/…"). Every run's path is rendered here, and `ferry validate`
 * renders each integration's path here too, so the rule is checked the same way at both.
 */
export function renderRunPath(integration: RunPathTarget, runId: number, at: Date, fileName?: string): string {
  const template = fileName === undefined ? integration.remotePath : `${integration.remotePath}${fileName}`;
  const { destination, district } = integration;
  const full = renderRemotePath(
    template,
    destination.basePath,
    { district: district.id, integration: integration.id, extract: integration.extract.name, runId: String(runId), at, timezone: integration.schedule.timezone },
    integration.id,
  );
  const sharers = destination.sharedBy ?? [];
  if (sharers.length > 1) {
    const base = path.posix.normalize(`${destination.basePath}/`);
    if (!full.startsWith(`${base}${district.id}/`)) {
      throw new FerryError(
        'path',
        `integration ${integration.id}: remotePath "${integration.remotePath}" must start with "{district}/" (the folder ${district.id}/): destination ${destination.id} is shared by districts ${sharers.join(', ')}, and each district's files stay in its own folder`,
        { integration: integration.id, field: 'remotePath' },
      );
    }
  }
  return full;
}
