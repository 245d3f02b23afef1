import nodemailer from 'nodemailer';
import type { Logger } from 'winston';
import { resolveSecret, scrubSecrets } from '../config/secrets.js';
import type { AlertsConfig } from '../config/schema.js';
import type { AlertMail } from './batch.js';

export type EmailConfig = NonNullable<AlertsConfig['email']>;

export interface EmailDeps {
  configDir: string;
  logger: Logger;
}

/** An SMTP server that stops answering must not keep the daemon's shutdown waiting for minutes. */
const CONNECT_TIMEOUT_MS = 15_000;
const SOCKET_TIMEOUT_MS = 30_000;
/** nodemailer's codes for "this server cannot be used right now", as opposed to one message being refused. */
const CONNECTION_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'EAUTH', 'ETLS', 'ESOCKET', 'EDNS']);

/**
 * Sends each message over one SMTP connection opened for this batch. The password is resolved here, at the moment
 * of sending, so a rotated secret is picked up without a restart. Never throws: a message that cannot be sent is
 * logged with the server's host and SMTP code only. Resolves to how many were accepted.
 */
export async function sendMails(email: EmailConfig, mails: readonly AlertMail[], deps: EmailDeps): Promise<number> {
  if (mails.length === 0) return 0;
  const { logger } = deps;
  const { smtp } = email;
  let pass: string | undefined;
  try {
    pass = smtp.password ? resolveSecret(smtp.password, { configDir: deps.configDir, owner: 'alerts', field: 'email.smtp.password' }) : undefined;
  } catch (err) {
    logger.warn('alert email not sent', { host: smtp.host, reason: (err as Error).message, messages: mails.length });
    return 0;
  }
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTls,
    ...(smtp.user ? { auth: { user: smtp.user, ...(pass === undefined ? {} : { pass }) } } : {}),
    connectionTimeout: CONNECT_TIMEOUT_MS,
    greetingTimeout: CONNECT_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    // Bodies are plain text built by Ferry; nothing in them should ever make nodemailer read a file or a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
  });
  let sent = 0;
  try {
    for (const mail of mails) {
      try {
        await transport.sendMail({
          from: email.from,
          to: mail.to.map((r) => ({ name: r.name, address: r.address })),
          subject: scrubSecrets(mail.subject),
          text: scrubSecrets(mail.text),
          // RFC 3834: keeps out-of-office replies from answering the daemon.
          headers: { 'Auto-Submitted': 'auto-generated' },
        });
        sent += 1;
      } catch (err) {
        const e = err as Error & { code?: string; responseCode?: number };
        // The connection or the login failed: the next messages would fail the same way, slowly.
        const fatal = e.code !== undefined && CONNECTION_CODES.has(e.code);
        const unsent = fatal ? mails.length - sent : 1;
        logger.warn('alert email not sent', { host: smtp.host, port: smtp.port, code: e.code, responseCode: e.responseCode, messages: unsent });
        if (fatal) break;
      }
    }
  } finally {
    transport.close();
  }
  if (sent > 0) logger.debug('alert email sent', { host: smtp.host, messages: sent });
  return sent;
}
