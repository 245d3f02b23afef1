import fs from 'node:fs';
import { FerryError } from '../../core/errors.js';
import { buildDataFlows } from '../../governance/reports/data-flows.js';
import { buildExposure } from '../../governance/reports/exposure.js';
import { buildInventory } from '../../governance/reports/inventory.js';
import { REPORT_FORMATS, REPORT_KINDS, renderReport, type ReportFormat, type ReportKind, type ReportModel } from '../../governance/reports/renderers.js';
import { buildSupplemental } from '../../governance/reports/supplemental.js';
import { currentUser, withRuntime, type GlobalOptions, type Io } from '../context.js';

export interface ReportOptions extends GlobalOptions {
  district?: string;
  vendor?: string;
  since?: string;
  until?: string;
  format?: string;
  out?: string;
}

/**
 * `ferry report <kind> [--district D] [--format csv|json|md|html] [--out FILE]`: inventory, data-flows, exposure and
 * supplemental, built from config and the run store. The report is audited (what was asked, not what it holds) before
 * it is printed or written: a report nobody can trace is not handed out.
 */
export async function cmdReport(kind: string, opts: ReportOptions, io: Io): Promise<number> {
  if (!(REPORT_KINDS as readonly string[]).includes(kind)) throw new FerryError('params', `unknown report "${kind}" (known: ${REPORT_KINDS.join(', ')})`, { field: 'kind' });
  const format = (opts.format ?? 'md') as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) throw new FerryError('params', `--format must be one of ${REPORT_FORMATS.join(', ')}, not "${opts.format}"`, { field: 'format' });
  return withRuntime(opts, async (rt) => {
    const { config, store } = rt;
    if (opts.district !== undefined && !config.districts.has(opts.district)) {
      throw new FerryError('params', `unknown district "${opts.district}" (known: ${[...config.districts.keys()].join(', ') || 'none'})`, { field: 'district' });
    }
    const now = rt.clock.now();
    const model: ReportModel = await buildFor(kind as ReportKind);
    const text = renderReport(model, format);
    await rt.audit.append({
      who: currentUser(),
      action: 'report',
      district: opts.district ?? null,
      what: `report ${kind} (${format})${opts.out ? ` written to ${opts.out}` : ''}`,
      ticket: opts.ticket ?? null,
      details: { kind, format, rows: model.rows.length, ...(opts.vendor !== undefined ? { vendor: opts.vendor } : {}), ...(opts.since !== undefined ? { since: opts.since } : {}), ...(opts.until !== undefined ? { until: opts.until } : {}) },
    });
    if (opts.out) {
      try {
        fs.writeFileSync(opts.out, text);
      } catch (cause) {
        throw new FerryError('params', `cannot write the report to ${opts.out}: ${(cause as NodeJS.ErrnoException).code ?? 'write failed'}`, { field: 'out', cause });
      }
      io.err(`report ${kind} written to ${opts.out}\n`);
    } else io.out(text);
    return 0;

    function buildFor(k: ReportKind): Promise<ReportModel> {
      switch (k) {
        case 'inventory':
          return buildInventory(config, store, now, opts.district);
        case 'data-flows':
          return buildDataFlows(config, store, now, opts.district);
        case 'exposure':
          return buildExposure(config, store, now, opts);
        case 'supplemental':
          return buildSupplemental(config, store, now, opts);
      }
    }
  });
}
