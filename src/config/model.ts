import type { AgreementInput, AlertsConfig, GovernanceConfig, ColumnType, DestinationConfig, FormatOptions, ParamDecl, SecretRef, SourceConfig, StandardFilter } from './schema.js';

/** ferry.yaml `governance:` (center-wide). */
export type GovernanceSettings = Readonly<GovernanceConfig>;

/** The resolved, frozen configuration. Only the loader builds these; the rest of Ferry trusts them. */

export interface ColumnDef {
  readonly name: string;
  readonly type: ColumnType;
  readonly description?: string | undefined;
  /** API sources: dotted path of the value in a response record (e.g. `name.last_name`). */
  readonly path?: string | undefined;
  /** API sources: may be empty in every row; a column that is not optional and empty in every row fails the run. */
  readonly optional?: boolean | undefined;
  /** The data element the column carries (an NDPA Schedule of Data tag, see src/governance/elements.ts). */
  readonly element?: string | undefined;
}

export interface Extract {
  readonly name: string;
  readonly description: string;
  readonly sourceKind: SourceConfig['kind'];
  readonly filters: readonly StandardFilter[];
  readonly params: Readonly<Record<string, ParamDecl>>;
  readonly columns: readonly ColumnDef[];
  /** The column naming the person in each row (delivery digests, `ferry trace`). */
  readonly personKey?: string | undefined;
  /** SQL for database sources ('' for API sources). */
  readonly sql: string;
  /** API sources: what to fetch (the `request:` block, checked by the connector's schema). */
  readonly request?: Readonly<Record<string, unknown>> | undefined;
  /** The metadata file, for messages. */
  readonly file: string;
}

export interface District {
  readonly id: string;
  readonly name: string;
  readonly contact?: string | undefined;
  readonly gradeBands: Readonly<Record<string, string>>;
  readonly blackouts: readonly Blackout[];
  /** The district's agreements with vendors (`agreements:` in its file). */
  readonly agreements?: readonly Agreement[] | undefined;
  readonly file: string;
}

/**
 * A signed agreement (see agreementSchema): dates are YYYY-MM-DD and inclusive, so it is in force through `expires`.
 * `covers` holds element tags or whole categories, every one known.
 */
export type Agreement = Readonly<Omit<AgreementInput, 'covers' | 'dataAtEnd'>> & {
  readonly covers: readonly string[];
  readonly dataAtEnd: Readonly<AgreementInput['dataAtEnd']>;
  readonly districtId: string;
};

/** Inclusive dates (YYYY-MM-DD) in the integration's time zone. */
export interface Blackout {
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly initialDelaySeconds: number;
  readonly maxDelaySeconds: number;
}

export interface Inventory {
  readonly vendor: string;
  readonly contact: string;
  readonly purpose: string;
  readonly ticket?: string | undefined;
  readonly startDate?: string | undefined;
  /** Months between yearly reviews (default 12, see governance/reviews.ts). */
  readonly reviewEveryMonths?: number | undefined;
  /** The first review date when none is recorded yet (default: reviewEveryMonths after startDate). */
  readonly nextReview?: string | undefined;
  readonly notes?: string | undefined;
}

export type NamedSource = SourceConfig & { readonly id: string };
export type NamedDestination = DestinationConfig & {
  readonly id: string;
  /**
   * The districts whose integrations use this destination (by district id, sorted). With more than one it is shared,
   * and each district's remote paths must lie in its own `<district id>/` folder (pipeline/run-paths.ts).
   */
  readonly sharedBy?: readonly string[] | undefined;
};

export interface Integration {
  readonly id: string;
  readonly district: District;
  /**
   * The extract as this integration ships it: with `fields:` set, its columns are only the allowed ones
   * (in the extract's order), and the declared columns left out are in `withheld`.
   */
  readonly extract: Extract;
  /**
   * Set when the integration ships a OneRoster bundle (one zip from several extracts). `extract` is then the first
   * member, so that code paths that show one extract keep working.
   */
  readonly bundle?: IntegrationBundle | undefined;
  /** Declared columns of the extract that this integration never ships (empty when there is no `fields:` list). */
  readonly withheld: readonly ColumnDef[];
  readonly source: NamedSource;
  readonly destination: NamedDestination;
  readonly remotePath: string;
  readonly schedule: { readonly cron: string; readonly timezone: string };
  readonly params: Readonly<Record<string, unknown>>;
  readonly format: FormatOptions;
  /** As written in config; the run store may hold an override set by `ferry enable/disable`. */
  readonly enabled: boolean;
  readonly allowEmpty: boolean;
  /** The roster safety gate; null when it is off (`safety: false`, or `maxRowDrop: 1` with `maxRowGrowth: false`). */
  readonly safety: SafetyGate | null;
  readonly misfire: 'skip' | 'latest' | 'all';
  readonly overlap: 'skip' | 'queue-one';
  /** Null when retries are off (`retry: false`). */
  readonly retry: RetryPolicy | null;
  readonly timeoutMs: number;
  /** The integration's own blackouts and its district's. */
  readonly blackouts: readonly Blackout[];
  readonly inventory: Inventory;
  /** The district's agreement this integration sends under (by `agreement:`, or the one with its vendor). */
  readonly agreement?: Agreement | undefined;
  readonly file: string;
}

export interface SafetyGate {
  /** Hold a file whose rows fall by more than this fraction of the last delivery's; null: never for a fall. */
  readonly maxRowDrop: number | null;
  /** Hold a file whose rows grow by more than this fraction; null: never for growth. */
  readonly maxRowGrowth: number | null;
  /** A held file nobody releases is removed after this many days, and its run recorded `expired`. */
  readonly heldDays: number;
}

/** How long a held file waits when its integration has no gate (any more) or is gone from the config. */
export const DEFAULT_HELD_DAYS = 14;

export interface IntegrationBundle {
  /** oneroster: one zip with manifest.csv; clever: each file into the remotePath folder. */
  readonly format: 'oneroster' | 'clever';
  /** Always bulk for Clever (every Clever file is a full snapshot). */
  readonly mode: 'bulk' | 'delta';
  /** In the order written in config; `name` is the file name in the zip or folder ("users.csv", "students.csv"). */
  readonly files: readonly { readonly name: string; readonly extract: Extract }[];
}

export type StoreConfig = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: SecretRef };

export interface DemoConfig {
  readonly sisPath: string;
  readonly sftp: {
    readonly host: string;
    readonly port: number;
    readonly root: string;
    readonly username: string;
    readonly hostKeyPath: string;
    readonly clientKeyPath: string;
  };
}

export interface FerryConfig {
  /** Absolute path of the config folder; relative paths in config are resolved against it. */
  readonly dir: string;
  readonly dataDir: string;
  readonly spoolDir: string;
  /** Delta integrations' last delivered OneRoster bulk (see pipeline/delta-baseline.ts). */
  readonly baselineDir: string;
  readonly logDir: string;
  readonly extractsDir: string;
  readonly store: StoreConfig;
  readonly keepSpool: boolean;
  /** Kept spool copies (dry runs, spool.keep) are removed after this many days. */
  readonly spoolKeepDays: number;
  /** The receipt journal (see runs/receipts.ts). */
  readonly receiptsDir: string;
  readonly concurrency: { readonly global: number; readonly perSource: number; readonly perDestinationHost: number };
  readonly scheduler: { readonly leaseSeconds: number; readonly heartbeatSeconds: number; readonly pollSeconds: number; readonly misfireWindowHours: number };
  readonly http: { readonly host: string; readonly port: number } | null;
  readonly alerts: AlertsConfig | null;
  readonly governance: GovernanceSettings;
  readonly shutdownGraceSeconds: number;
  readonly logLevel: 'error' | 'warn' | 'info' | 'debug';
  /** Drivers' raw error text to <logDir>/driver-debug.log (see logging/driver-debug.ts). */
  readonly debugLog: boolean;
  readonly sources: ReadonlyMap<string, NamedSource>;
  readonly destinations: ReadonlyMap<string, NamedDestination>;
  readonly extracts: ReadonlyMap<string, Extract>;
  readonly districts: ReadonlyMap<string, District>;
  readonly integrations: ReadonlyMap<string, Integration>;
  readonly demo?: DemoConfig | undefined;
  /** Person digests (src/governance/person-digests.ts): their HMAC key, none when unset (no digests kept); days kept. */
  readonly personDigests: { readonly secret: SecretRef | null; readonly days: number };
}

/** One problem found while loading config: the file, the field inside it, and what is wrong. */
export interface ConfigProblem {
  readonly file: string;
  readonly field: string;
  readonly message: string;
}
