import { isLoopbackHost } from '../core/loopback.js';
import type { NamedSource } from './model.js';

/**
 * The one sentence `ferry validate` and `ferry show` print for a source whose transport was turned down in config:
 * cleartext to a host that is not loopback, or TLS without checking whose certificate it is. Undefined when the
 * source uses the defaults (or talks to loopback, where nothing crosses the network).
 */
export function transportWarning(source: NamedSource): string | undefined {
  const at = `source ${source.id}`;
  switch (source.kind) {
    case 'postgres':
      if (source.ssl === false && !isLoopbackHost(source.host)) return `${at}: ssl: false (allowPlaintext: true) sends the password and every row to ${source.host} in cleartext`;
      if (source.ssl === 'insecure-no-verify') return `${at}: ssl: insecure-no-verify encrypts without checking ${source.host}'s certificate, so anyone in the path can pose as the server`;
      return undefined;
    case 'schooltool':
      if (source.encrypt === false && !isLoopbackHost(source.host)) return `${at}: encrypt: false sends the login and every row to ${source.host} in cleartext`;
      if (source.encrypt === true && source.trustServerCertificate) return `${at}: trustServerCertificate: true encrypts without checking ${source.host}'s certificate, so anyone in the path can pose as the server`;
      return undefined;
    default:
      return undefined;
  }
}
