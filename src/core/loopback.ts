import net from 'node:net';

/**
 * Whether a host, as written in config, is this machine: `localhost`, an IPv4 address in 127.0.0.0/8, or ::1.
 * Decided from the text alone, never by resolving a name: what a name resolves to can change (DNS, /etc/hosts),
 * and a decision to send cleartext must not.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (h === 'localhost') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** An `http:` URL to a host that is not loopback: credentials and rows would cross the network in clear. */
export function isCleartextRemoteUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && !isLoopbackHost(u.hostname);
  } catch {
    return false;
  }
}
