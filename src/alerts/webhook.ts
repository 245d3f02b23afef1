import type { Logger } from 'winston';
import { resolveSecret, scrubSecrets } from '../config/secrets.js';
import type { AlertsConfig } from '../config/schema.js';

export type WebhookConfig = NonNullable<AlertsConfig['webhook']>;

export interface WebhookDeps {
  configDir: string;
  logger: Logger;
}

/**
 * POSTs `{"text": …}`, which Slack and Teams incoming webhooks both read. The whole URL is treated as a secret
 * (Slack and Teams put the token in the path), so only its host is ever logged. Never throws: an alert that cannot
 * be sent is logged and must not break the run or the daemon that raised it. Resolves true when the hook took it.
 */
export async function postWebhook(hook: WebhookConfig, text: string, deps: WebhookDeps): Promise<boolean> {
  const { logger } = deps;
  let url: URL;
  try {
    url = new URL(resolveSecret(hook.url, { configDir: deps.configDir, owner: 'alerts', field: 'webhook.url' }));
  } catch (err) {
    // Either the secret is missing (the message names the variable or file, not a value) or it is not a URL.
    const message = err instanceof TypeError ? 'the webhook url is not a valid URL' : (err as Error).message;
    logger.warn('alert webhook not sent', { reason: message });
    return false;
  }
  const host = url.host;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: scrubSecrets(text) }),
      signal: AbortSignal.timeout(hook.timeoutSeconds * 1000),
    });
    // Read the body so the connection is freed; never log it (a receiver may echo the request).
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) {
      logger.warn('alert webhook refused', { host, status: res.status });
      return false;
    }
    logger.debug('alert webhook sent', { host, status: res.status });
    return true;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError') logger.warn('alert webhook timed out', { host, timeoutSeconds: hook.timeoutSeconds });
    // fetch's own message is just "fetch failed"; the cause's code (ECONNREFUSED, ENOTFOUND) says why, without the URL.
    else logger.warn('alert webhook unreachable', { host, code: e.cause?.code ?? e.name });
    return false;
  }
}
