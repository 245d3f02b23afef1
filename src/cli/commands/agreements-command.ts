import { ConfigError, tryLoadConfig } from '../../config/loader.js';
import type { FerryConfig } from '../../config/model.js';
import { FerryError } from '../../core/errors.js';
import { agreementState, agreementUses, describeState } from '../../governance/agreements.js';
import type { GlobalOptions, Io } from '../context.js';
import { table } from '../output.js';

export interface AgreementRow {
  district: string;
  id: string;
  vendor: string;
  title: string;
  signed: string;
  expires: string;
  state: 'active' | 'expiring' | 'expired' | 'unused';
  /** Days left through the expiry day (0 on it); negative once expired. */
  daysLeft: number;
  /** "active (204 days left)", "expiring in 24 days", "expired on 2026-06-30", "unused". */
  status: string;
  covers: readonly string[];
  purpose: string;
  supplementalUrl: string;
  dataAtEnd: { action: string; text: string };
  integrations: string[];
}

/** Every agreement (of one district, or all) with its state on `now` and the integrations sending under it. */
export function agreementRows(config: FerryConfig, now: Date, districtId?: string): AgreementRow[] {
  if (districtId !== undefined && !config.districts.has(districtId)) {
    throw new FerryError('params', `unknown district "${districtId}" (known: ${[...config.districts.keys()].join(', ') || 'none'})`, { field: 'district' });
  }
  return agreementUses(config, districtId).map((use) => {
    const a = use.agreement;
    const state = agreementState(use, now);
    return {
      district: a.districtId,
      id: a.id,
      vendor: a.vendor,
      title: a.title,
      signed: a.signed,
      expires: a.expires,
      state: state.kind,
      daysLeft: state.kind === 'expired' ? -state.daysAgo : state.daysLeft,
      status: describeState(state, a),
      covers: a.covers,
      purpose: a.purpose,
      supplementalUrl: a.supplementalUrl,
      dataAtEnd: { ...a.dataAtEnd },
      integrations: use.integrations.map((i) => i.id),
    };
  });
}

/**
 * `ferry agreements [--district D] [--json]`: every agreement with its state today (active, expiring in N days within
 * 60 days of expiry, expired, unused) and the integrations that send under it. Read from config alone.
 */
export async function cmdAgreements(opts: GlobalOptions & { district?: string; json?: boolean }, io: Io): Promise<number> {
  const res = tryLoadConfig(opts.config);
  if (!res.ok) throw new ConfigError(res.problems);
  const rows = agreementRows(res.config, new Date(), opts.district);
  if (opts.json) {
    io.out(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  if (rows.length === 0) {
    io.out(`no agreements${opts.district ? ` for ${opts.district}` : ''}: add them under agreements: in the district files\n`);
    return 0;
  }
  io.out(table(['DISTRICT', 'AGREEMENT', 'VENDOR', 'EXPIRES', 'STATE', 'INTEGRATIONS'], rows.map((r) => [r.district, r.id, r.vendor, r.expires, r.status, r.integrations.join(', ') || '(none)'])));
  return 0;
}
