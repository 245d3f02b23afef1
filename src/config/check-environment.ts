import fs from 'node:fs';
import path from 'node:path';
import { readPinFile } from '../delivery/host-key-pin.js';
import type { DemoConfig, NamedDestination, NamedSource } from './model.js';
import type { AlertsConfig, FerryFile, SecretRef } from './schema.js';
import { secretRefProblem } from './secrets.js';

/**
 * What `ferry validate` checks beyond the files themselves: what this host and this user must supply for a run at
 * 2 AM to work. Every secret reference resolves (never reading out a value), secret files are private, every pin file
 * holds a fingerprint, and the data folder can be written. Only validate runs these: other commands load config as
 * any user (an operator without the secrets may still `ferry list`).
 */
export interface EnvironmentInput {
  configDir: string;
  env: NodeJS.ProcessEnv;
  dataDir: string;
  sources: ReadonlyMap<string, NamedSource>;
  destinations: ReadonlyMap<string, NamedDestination>;
  store: FerryFile['store'];
  alerts: AlertsConfig | undefined;
  /** Files the demo creates on first use are not missing before it has run. */
  demo: DemoConfig | undefined;
}

export function checkEnvironment(input: EnvironmentInput, add: (field: string, message: string) => void): void {
  const { configDir, env } = input;
  const demoMade = new Set(input.demo ? [input.demo.sftp.clientKeyPath, `${input.demo.sftp.hostKeyPath}.sha256`] : []);
  const secret = (field: string, ref: SecretRef | undefined | string) => {
    if (ref === undefined || typeof ref === 'string') return;
    if ('file' in ref && demoMade.has(path.resolve(configDir, ref.file)) && !fs.existsSync(path.resolve(configDir, ref.file))) return;
    const problem = secretRefProblem(ref, configDir, env);
    if (problem) add(field, problem);
  };

  for (const [id, s] of input.sources) {
    const at = `sources.${id}`;
    if ('password' in s) secret(`${at}.password`, s.password);
    if ('clientSecret' in s) {
      secret(`${at}.clientId`, s.clientId);
      secret(`${at}.clientSecret`, s.clientSecret);
    }
  }
  for (const [id, d] of input.destinations) {
    if (d.kind !== 'sftp') continue;
    const at = `destinations.${id}`;
    secret(`${at}.password`, d.password);
    secret(`${at}.privateKey`, d.privateKey);
    secret(`${at}.passphrase`, d.passphrase);
    if (typeof d.hostKeySha256 !== 'string') {
      const file = path.resolve(configDir, d.hostKeySha256.file);
      if (demoMade.has(file) && !fs.existsSync(file)) continue;
      const pin = readPinFile(file);
      if (!pin.ok) add(`${at}.hostKeySha256`, pin.problem);
    }
  }
  if (input.store && 'postgres' in input.store) secret('store.postgres.url', input.store.postgres.url);
  secret('alerts.webhook.url', input.alerts?.webhook?.url);
  secret('alerts.email.smtp.password', input.alerts?.email?.smtp.password);

  const dataDirProblem = folderProblem(input.dataDir);
  if (dataDirProblem) add('dataDir', dataDirProblem);
}

/** Ferry creates its data folder (and any missing parents) on start: the nearest existing one must be a writable folder. */
function folderProblem(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    let st: fs.Stats;
    try {
      st = fs.statSync(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && path.dirname(d) !== d) continue;
      return `cannot look at ${d} (${code ?? 'error'})`;
    }
    const what = d === dir ? dir : `${d}, where ${dir} would be created,`;
    if (!st.isDirectory()) return `${what} is a file, not a folder`;
    try {
      fs.accessSync(d, fs.constants.W_OK | fs.constants.X_OK);
    } catch {
      return `${what} cannot be written by this user`;
    }
    return undefined;
  }
}
