import { z } from 'zod';
import cron from 'node-cron';
import { isCleartextRemoteUrl, isLoopbackHost } from '../core/loopback.js';
import { parseGrades } from './params.js';

/**
 * The file schemas. Everything a user writes is parsed here once; the loader then cross-checks references
 * and builds the frozen, resolved model in model.ts. Nothing else in Ferry re-validates config.
 */

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const slug = z.string().regex(SLUG, 'must be lower-case letters, digits and dashes (e.g. "hilltop-csd")');

/** A secret is never written inline: only a reference to an environment variable or a file. */
export const secretRef = z.union(
  [z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name') }), z.strictObject({ file: z.string().min(1) })],
  {
    error: (issue) =>
      typeof issue.input === 'string'
        ? 'inline secrets are not allowed; write { env: VARIABLE } or { file: path } instead'
        : 'must be { env: VARIABLE } or { file: path }',
  },
);
export type SecretRef = z.infer<typeof secretRef>;

const timezone = z.string().refine(isIanaTimezone, { message: 'is not a known IANA time zone (e.g. "America/New_York")' });
export function isIanaTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz.includes('/') || tz === 'UTC';
  } catch {
    return false;
  }
}

const cronExpr = z.string().superRefine((expr, ctx) => {
  const res = cron.validateDetailed(expr);
  if (!res.valid) {
    const detail = res.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    ctx.addIssue({ code: 'custom', message: `is not a valid cron expression (${detail})` });
  }
});

const positiveInt = z.number().int().positive();
const port = z.number().int().min(1).max(65535);

export const sqliteSourceSchema = z.strictObject({
  kind: z.literal('sqlite'),
  path: z.string().min(1),
  maxConcurrency: positiveInt.optional(),
});

export const postgresSourceSchema = z
  .strictObject({
    kind: z.literal('postgres'),
    host: z.string().min(1),
    port: port.default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    password: secretRef.optional(),
    /**
     * Unset: TLS with the server's certificate verified, except to a loopback host (no TLS). true, 'require' and
     * 'verify-full' all verify the certificate and host name; 'insecure-no-verify' encrypts without verifying; false is
     * cleartext, which a host that is not loopback also needs `allowPlaintext: true` for.
     */
    ssl: z.union([z.boolean(), z.enum(['require', 'verify-full', 'insecure-no-verify'])]).optional(),
    /** PEM file of the CA that signed the server's certificate (a self-signed certificate is its own CA); else the system CAs. */
    sslCa: z.string().min(1).optional(),
    allowPlaintext: z.boolean().optional(),
    connectTimeoutSeconds: positiveInt.default(10),
    statementTimeoutSeconds: positiveInt.optional(),
    maxConcurrency: positiveInt.optional(),
  })
  .refine((s) => !(s.ssl === false && !isLoopbackHost(s.host) && s.allowPlaintext !== true), {
    message: 'false sends the password and every row in cleartext to a host that is not loopback; remove it (TLS, certificate verified), or add allowPlaintext: true to accept that',
    path: ['ssl'],
  });

/** SchoolTool runs on SQL Server; reached with mssql (tedious). */
export const schoolToolSourceSchema = z
  .strictObject({
    kind: z.literal('schooltool'),
    host: z.string().min(1),
    port: port.optional(),
    instanceName: z.string().min(1).optional(),
    database: z.string().min(1),
    user: z.string().min(1),
    password: secretRef.optional(),
    /** 'strict' (TDS 8.0, SQL Server 2022+) refuses to fall back to cleartext; true encrypts when the server offers TLS. */
    encrypt: z.union([z.boolean(), z.literal('strict')]).default(true),
    trustServerCertificate: z.boolean().default(false),
    /** PEM file of the CA that signed the server's certificate (needed for a private CA; 'strict' ignores trustServerCertificate). */
    sslCa: z.string().min(1).optional(),
    connectTimeoutSeconds: positiveInt.default(15),
    requestTimeoutSeconds: positiveInt.default(600),
    readOnlyIntent: z.boolean().default(true),
    maxConcurrency: positiveInt.optional(),
  })
  .refine((s) => !(s.port !== undefined && s.instanceName !== undefined), { message: 'give a port or an instanceName, not both', path: ['instanceName'] });

// http:// only to loopback: the client secret travels in HTTP Basic auth, and then every record.
const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .refine((u) => !isCleartextRemoteUrl(u), { message: 'must be an https:// URL: http:// is allowed only to loopback (127.0.0.1, ::1, localhost), since the client secret and every record would cross the network in clear' });
const apiCommon = {
  clientId: z.union([z.string().min(1), secretRef]),
  clientSecret: secretRef,
  timeoutSeconds: positiveInt.default(60),
  /** Requests in flight at once against this district's API. */
  maxConcurrency: positiveInt.default(2),
  pageSize: positiveInt.optional(),
  retries: z.number().int().min(0).max(10).default(4),
  /** How far the records read may be from the source's own count before the run fails (retryably): records, default 0. */
  completeness: z.strictObject({ tolerance: z.number().int('must be a whole number of records').min(0).default(0) }).default({ tolerance: 0 }),
};

export const powerSchoolSourceSchema = z.strictObject({ kind: z.literal('powerschool'), baseUrl: httpUrl, ...apiCommon });
export const eSchoolDataSourceSchema = z.strictObject({ kind: z.literal('eschooldata'), tokenUrl: httpUrl, apiBase: httpUrl, ...apiCommon });

export const SOURCE_KINDS = ['sqlite', 'postgres', 'schooltool', 'powerschool', 'eschooldata'] as const;
export const sourceSchema = z.discriminatedUnion('kind', [sqliteSourceSchema, postgresSourceSchema, schoolToolSourceSchema, powerSchoolSourceSchema, eSchoolDataSourceSchema], {
  error: () => `kind must be one of: ${SOURCE_KINDS.join(', ')}`,
});
export type SourceConfig = z.infer<typeof sourceSchema>;
/** Source kinds whose extracts are requests (`request:` in extract.yaml) rather than SQL files. */
export const API_SOURCE_KINDS: readonly SourceConfig['kind'][] = ['powerschool', 'eschooldata'];

const fingerprint = z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must be an OpenSSH SHA-256 fingerprint like "SHA256:abc…" (ssh-keygen -lf key.pub)');

export const sftpDestinationSchema = z
  .strictObject({
    kind: z.literal('sftp'),
    host: z.string().min(1),
    port: port.default(22),
    username: z.string().min(1),
    password: secretRef.optional(),
    privateKey: secretRef.optional(),
    passphrase: secretRef.optional(),
    /** The server's pinned host key: the fingerprint itself, or a file holding it. */
    hostKeySha256: z.union([fingerprint, z.strictObject({ file: z.string().min(1) })]),
    basePath: z.string().startsWith('/', 'must be an absolute remote folder, e.g. "/" or "/districts"').default('/'),
    fileMode: z.string().regex(/^0?[0-7]{3}$/, 'must be an octal mode like "0600"').default('0600'),
    connectTimeoutSeconds: positiveInt.default(15),
    retries: z.number().int().min(0).max(10).default(3),
    /** Parallel requests for an upload; OpenSSH's sftp uses 64. */
    concurrency: positiveInt.max(256).default(64),
    maxConcurrency: positiveInt.optional(),
  })
  .refine((d) => d.password !== undefined || d.privateKey !== undefined, {
    message: 'needs a password or a privateKey reference',
    path: ['privateKey'],
  });

export const localDestinationSchema = z.strictObject({
  kind: z.literal('local'),
  basePath: z.string().min(1),
  fileMode: z.string().regex(/^0?[0-7]{3}$/, 'must be an octal mode like "0600"').default('0600'),
});

export const destinationSchema = z.discriminatedUnion('kind', [sftpDestinationSchema, localDestinationSchema], {
  error: () => 'kind must be one of: sftp, local',
});
export type DestinationConfig = z.infer<typeof destinationSchema>;

const ALERT_EVENTS = ['failed', 'held', 'missed', 'store', 'agreement'] as const;
export const alertsSchema = z.strictObject({
  /** Which events alert: a failed or held run, a missed slot, a daemon that cannot reach its store, an agreement 60/30/7 days before it expires. */
  on: z.array(z.enum(ALERT_EVENTS)).default([...ALERT_EVENTS]),
  /** A Slack- or Teams-compatible incoming webhook: POST {"text": …} (Teams also reads `text`). */
  webhook: z.strictObject({ url: secretRef, timeoutSeconds: positiveInt.default(10) }).optional(),
  email: z
    .strictObject({
      smtp: z.strictObject({
        host: z.string().min(1),
        port: port.default(587),
        /** true: TLS from the start (465); false: STARTTLS when offered. */
        secure: z.boolean().default(false),
        requireTls: z.boolean().default(true),
        user: z.string().min(1).optional(),
        password: secretRef.optional(),
      }),
      from: z.string().min(3),
      /** Always copied (the service desk); each district's `contact` gets its own district's alerts and digest. */
      to: z.array(z.string().min(3)).default([]),
    })
    .optional(),
  /** A daily digest per district contact: yesterday's runs, failures, holds and misses. */
  digest: z.union([z.literal(false), z.strictObject({ cron: cronExpr, timezone })]).default({ cron: '0 7 * * *', timezone: 'America/New_York' }),
});
export type AlertsConfig = z.infer<typeof alertsSchema>;

/** A date range (inclusive, in the integration's time zone) when scheduled runs do not run: the summer rollover. */
export const blackoutSchema = z
  .strictObject({ from: z.iso.date('must be a date like 2027-07-01'), to: z.iso.date('must be a date like 2027-08-15'), reason: z.string().min(1) })
  .refine((b) => b.from <= b.to, { message: 'from must not be after to', path: ['to'] });
export type BlackoutInput = z.infer<typeof blackoutSchema>;

/**
 * Center-wide governance settings. An integration to a vendor its district has no agreement with is refused
 * (`missingAgreement: error`); `warn` relaxes that to a warning, for every vendor or, with `outsidePart121`, only for
 * the vendors named there (the district's own systems, which are not third-party contractors under Part 121).
 */
/** Center-wide governance settings (README "Agreements", "Yearly review", "Who was in a file"). */
export const governanceSchema = z
  .strictObject({
    /** An integration to a vendor with no agreement: refused (error), or a warning (for vendors outside Part 121). */
    missingAgreement: z.enum(['error', 'warn']).default('error'),
    /** With missingAgreement: warn, only these vendors are relaxed (all when left out). */
    outsidePart121: z.array(z.string().min(1)).optional(),
    /** Hold scheduled runs of integrations whose yearly review is overdue. */
    holdOverdueReviews: z.boolean().default(false),
    /** The key of the person digests (who was in each delivered file, never the values); without it none are kept. */
    personKeySecret: secretRef.optional(),
    /** How long person digests are kept. */
    digestDays: positiveInt.default(400),
  })
  .default({ missingAgreement: 'error', holdOverdueReviews: false, digestDays: 400 });
export type GovernanceConfig = z.infer<typeof governanceSchema>;

export const ferryFileSchema = z.strictObject({
  /** Where the run store, spool and logs live; relative paths are relative to the config folder. */
  dataDir: z.string().default('../var'),
  extractsDir: z.string().default('../extracts'),
  store: z
    .union([
      z.strictObject({ sqlite: z.strictObject({ path: z.string().min(1) }) }),
      z.strictObject({ postgres: z.strictObject({ url: secretRef }) }),
    ])
    .optional(),
  // keepDays: how long a kept spool copy (a dry run's file, spool.keep) stays before it is removed.
  spool: z.strictObject({ keep: z.boolean().default(false), keepDays: z.number().positive().max(365).default(7) }).default({ keep: false, keepDays: 7 }),
  concurrency: z
    .strictObject({ global: positiveInt.default(4), perSource: positiveInt.default(2), perDestinationHost: positiveInt.default(4) })
    .default({ global: 4, perSource: 2, perDestinationHost: 4 }),
  /** How the daemon keeps time with other daemons sharing the store (see README "Several daemons"). */
  scheduler: z
    .strictObject({
      /** A running run's lease; another daemon takes over its slot's retry once it lapses. */
      leaseSeconds: z.number().int().min(5).default(60),
      heartbeatSeconds: z.number().int().min(1).default(15),
      /** How often queued runs (retries, queued overlaps) are looked for. */
      pollSeconds: z.number().int().min(1).default(5),
      /** How far back missed slots are looked for after downtime. */
      misfireWindowHours: z.number().positive().default(24),
    })
    .default({ leaseSeconds: 60, heartbeatSeconds: 15, pollSeconds: 5, misfireWindowHours: 24 }),
  /** The loopback HTTP endpoint for /healthz and /metrics; false turns it off. */
  http: z
    .union([z.literal(false), z.strictObject({ host: z.string().min(1).default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(9750) })])
    .default({ host: '127.0.0.1', port: 9750 }),
  alerts: alertsSchema.optional(),
  governance: governanceSchema,
  shutdownGraceSeconds: z.number().int().min(0).default(30),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  /** Keep drivers' own error text (which may quote student data) in <dataDir>/logs/driver-debug.log (0600); off by default. */
  debugLog: z.boolean().default(false),
  sources: z.record(slug, sourceSchema).default({}),
  destinations: z.record(slug, destinationSchema).default({}),
  demo: z
    .strictObject({
      sisPath: z.string().min(1),
      sftp: z.strictObject({
        host: z.string().default('127.0.0.1'),
        port: port,
        root: z.string().min(1),
        username: z.string().min(1),
        hostKeyPath: z.string().min(1),
        clientKeyPath: z.string().min(1),
      }),
    })
    .optional(),
});
export type FerryFile = z.infer<typeof ferryFileSchema>;

export const gradeBandSchema = z
  .string()
  .regex(/^(PK|K|\d{1,2})-(PK|K|\d{1,2})$/i, 'must be a grade range like "K-5" or "9-12"')
  .superRefine((range, ctx) => {
    // The same parser a run uses: a band that parses here never fails a run (e.g. "5-K" runs backwards, "9-13").
    try {
      parseGrades(range, {});
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

export const formatSchema = z
  .strictObject({
    kind: z.literal('csv').default('csv'),
    delimiter: z.enum([',', '\t', ';', '|']).default(','),
    lineEnding: z.enum(['crlf', 'lf']).default('crlf'),
    bom: z.boolean().default(false),
    header: z.boolean().default(true),
    booleans: z.tuple([z.string(), z.string()]).default(['true', 'false']),
    /** How `date` columns are written. Clever's CSV wants MM/DD/YYYY; OneRoster and most vendors YYYY-MM-DD. */
    dateFormat: z.enum(['YYYY-MM-DD', 'MM/DD/YYYY']).default('YYYY-MM-DD'),
  })
  .default({ kind: 'csv', delimiter: ',', lineEnding: 'crlf', bom: false, header: true, booleans: ['true', 'false'], dateFormat: 'YYYY-MM-DD' });
export type FormatOptions = z.infer<typeof formatSchema>;

/**
 * A bundle: several extracts shipped as one set, one per file ("users.csv": oneroster-users).
 * - oneroster: one OneRoster 1.1 zip; each extract's columns must be the spec headers of its file, in order, and the
 *   files are written by the OneRoster CSV rules (comma, CRLF, UTF-8 without BOM, booleans true/false). `mode: delta`
 *   sends what changed since the integration's last delivered bulk.
 * - clever: Clever's CSV set, each file into the folder `remotePath` names (it ends in "/"); columns must be Clever's
 *   (any order), dates are written MM/DD/YYYY.
 * `format:` and `fields:` do not apply to a bundle.
 */
const bundleFiles = z.record(z.string().min(1), slug).refine((f) => Object.keys(f).length > 0, { message: 'must list at least one file, e.g. users.csv: oneroster-users' });
export const bundleSchema = z.discriminatedUnion(
  'format',
  [
    z.strictObject({ format: z.literal('oneroster'), mode: z.enum(['bulk', 'delta']).default('bulk'), files: bundleFiles }),
    z.strictObject({ format: z.literal('clever'), files: bundleFiles }),
  ],
  { error: () => 'format must be oneroster or clever' },
);
export type BundleInput = z.infer<typeof bundleSchema>;

export const integrationSchema = z.strictObject({
  id: slug,
  /** The extract this integration ships; exactly one of `extract` or `bundle`. */
  extract: slug.optional(),
  bundle: bundleSchema.optional(),
  source: slug,
  destination: slug,
  remotePath: z.string().min(1),
  schedule: z.strictObject({ cron: cronExpr, timezone }),
  params: z.record(z.string(), z.unknown()).default({}),
  format: formatSchema,
  enabled: z.boolean().default(true),
  /** A run with no rows fails unless this is set: an empty roster looks like "delete everyone" to a vendor. */
  allowEmpty: z.boolean().default(false),
  /**
   * The roster safety gate: a run whose row count falls by more than `maxRowDrop` (a fraction) against the last
   * delivered run is held for a person to release, since vendors treat a missing student as deleted; one whose rows
   * grow by more than `maxRowGrowth` (0.5 = half as many again) is held too, since a file that suddenly grows is
   * usually a wider scope than the vendor agreed to. `maxRowDrop: 1` and `maxRowGrowth: false` turn each off, `false`
   * both. A held file nobody releases is removed after `heldDays` and its run recorded `expired`.
   */
  safety: z
    .union([
      z.literal(false),
      z.strictObject({
        maxRowDrop: z.number().min(0, 'must be a fraction from 0 to 1').max(1, 'must be a fraction from 0 to 1').default(0.1),
        maxRowGrowth: z.union([z.number().positive('must be a fraction above 0, e.g. 0.5 for +50%'), z.literal(false), z.null()]).default(0.5),
        heldDays: z.number().int('must be a whole number of days').min(1, 'must be at least 1 day').default(14),
      }),
    ])
    .default({ maxRowDrop: 0.1, maxRowGrowth: 0.5, heldDays: 14 }),
  /** After downtime: skip (record the missed slots), latest (run once), all (run each missed slot in the window). */
  misfire: z.enum(['skip', 'latest', 'all']).default('latest'),
  /** A slot that comes while the previous run is still going: skip it (recorded), or queue one run for afterwards. */
  overlap: z.enum(['skip', 'queue-one']).default('skip'),
  /** Retries of retryable failures (network, timeouts, 5xx/429, deadlocks): exponential backoff with jitter. */
  retry: z
    .union([
      z.literal(false),
      z.strictObject({
        maxAttempts: z.number().int().min(1).max(20).default(3),
        initialDelaySeconds: z.number().int().min(1).default(60),
        maxDelaySeconds: z.number().int().min(1).default(900),
      }),
    ])
    .default({ maxAttempts: 3, initialDelaySeconds: 60, maxDelaySeconds: 900 }),
  /** A run still going after this long is stopped (source query and upload aborted) and fails. */
  timeoutMinutes: z.number().positive().default(120),
  blackouts: z.array(blackoutSchema).default([]),
  /** The columns the vendor's data privacy agreement allows, by declared name; the rest are never shipped. */
  fields: z.array(z.string().min(1)).min(1, 'must list at least one field (leave fields out to send every declared column)').optional(),
  /** The id of the district's agreement this integration sends under; needed only when the vendor has several. */
  agreement: slug.optional(),
  inventory: z.strictObject({
    vendor: z.string().min(1),
    contact: z.string().min(1),
    purpose: z.string().min(1),
    ticket: z.union([z.string(), z.number()]).transform(String).optional(),
    startDate: z.iso.date('must be a date like 2026-09-01').optional(),
    /** The yearly review (`ferry review due`): every this many months after the start date or the last review. */
    reviewEveryMonths: z.number().int('must be a whole number of months').min(1, 'must be 1 to 36 months').max(36, 'must be 1 to 36 months').optional(),
    /** An explicit first review date, before any review is recorded (default: reviewEveryMonths after startDate). */
    nextReview: z.iso.date('must be a date like 2027-06-30').optional(),
    notes: z.string().optional(),
  }),
});
export type IntegrationInput = z.infer<typeof integrationSchema>;

/**
 * A district's signed agreement with a vendor (NDPA, or the contract carrying New York's Part 121 supplemental
 * information), listed under `agreements:` beside `district:` in the district file. `covers` names NDPA Schedule of
 * Data tags or whole categories (src/governance/elements.ts); it is checked against the elements in the loader.
 */
export const agreementSchema = z
  .strictObject({
    id: slug,
    vendor: z.string().min(1),
    title: z.string().min(1),
    signed: z.iso.date('must be a date like 2026-08-20'),
    expires: z.iso.date('must be a date like 2027-06-30'),
    covers: z.array(z.string().min(1)).min(1, 'must list at least one data element or category'),
    purpose: z.string().min(1),
    /** Where the district publishes the contract's Part 121 supplemental information. */
    supplementalUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL where the supplemental information is published' }),
    /** What happens to the data when the agreement ends. */
    dataAtEnd: z.strictObject({ action: z.enum(['returned', 'deleted', 'transferred']), text: z.string().min(1) }),
  })
  .refine((a) => a.signed <= a.expires, { message: 'must not be before signed', path: ['expires'] });
export type AgreementInput = z.infer<typeof agreementSchema>;

export const districtSchema = z.strictObject({
  id: slug,
  name: z.string().min(1),
  contact: z.string().optional(),
  gradeBands: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, 'must be a name of letters and digits, e.g. ES'), gradeBandSchema).default({}),
  /** Apply to every integration of the district, on top of each integration's own. */
  blackouts: z.array(blackoutSchema).default([]),
});


export const PARAM_TYPES = ['string', 'integer', 'boolean', 'date', 'string[]'] as const;
export const COLUMN_TYPES = ['string', 'integer', 'decimal', 'boolean', 'date', 'timestamp'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];
export const STANDARD_FILTERS = ['schoolYear', 'buildings', 'grades', 'activeOnly', 'asOf'] as const;
export type StandardFilter = (typeof STANDARD_FILTERS)[number];

export const paramDeclSchema = z.strictObject({
  type: z.enum(PARAM_TYPES),
  description: z.string().optional(),
  required: z.boolean().default(false),
  default: z.unknown().optional(),
  allowed: z.array(z.union([z.string(), z.number()])).optional(),
});
export type ParamDecl = z.infer<typeof paramDeclSchema>;

export const extractFileSchema = z.strictObject({
  name: slug,
  description: z.string().min(1),
  source: z.enum(SOURCE_KINDS),
  filters: z.array(z.enum(STANDARD_FILTERS)).default([]),
  params: z
    .record(z.string().regex(/^[a-z][A-Za-z0-9]*$/, 'must be a camelCase name'), paramDeclSchema)
    .default({}),
  /** API sources: what to fetch; checked by the connector's own schema. */
  request: z.record(z.string(), z.unknown()).optional(),
  /** The column that identifies the person in each row (a student or staff id): what delivery digests and `ferry trace` key on. */
  personKey: z.string().min(1).optional(),
  columns: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        type: z.enum(COLUMN_TYPES),
        description: z.string().optional(),
        path: z.string().min(1).optional(),
        /** API extracts: the column may be empty in every row (otherwise that fails the run as a path matching nothing). */
        optional: z.boolean().optional(),
        /** The data element it carries, from the NDPA Schedule of Data (src/governance/elements.ts). */
        element: z.string().min(1).optional(),
      }),
    )
    .min(1, 'must declare at least one output column'),
});
