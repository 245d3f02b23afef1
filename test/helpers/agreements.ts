import { DATA_ELEMENTS } from '../../src/governance/elements.js';

const EVERY_CATEGORY = [...new Set([...DATA_ELEMENTS.values()].map((e) => e.category))];

/**
 * For tests that are not about agreements: one agreement per vendor the integrations name, covering every data
 * element and in force until 2099, so that `validate`'s agreement checks pass and the test stays about its own subject.
 */
export function agreementsFor(integrations: readonly unknown[], districtId = 'test'): Record<string, unknown>[] {
  const vendors = new Set<string>();
  for (const i of integrations) {
    const vendor = i && typeof i === 'object' ? (i as { inventory?: { vendor?: unknown } }).inventory?.vendor : undefined;
    if (typeof vendor === 'string') vendors.add(vendor);
  }
  return agreementsWith([...vendors], districtId);
}

/** The same, for the vendors named. */
export function agreementsWith(vendors: readonly string[], districtId = 'test'): Record<string, unknown>[] {
  return vendors.map((vendor, n) => ({
    id: `${districtId}-agreement-${n + 1}`.slice(0, 63),
    vendor,
    title: `${vendor} test agreement`,
    signed: '2026-01-01',
    expires: '2099-12-31',
    covers: EVERY_CATEGORY,
    purpose: 'Testing',
    supplementalUrl: 'https://district.example.org/privacy/supplemental',
    dataAtEnd: { action: 'deleted', text: 'Deleted at the end of the test.' },
  }));
}
