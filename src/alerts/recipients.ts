/** A mail recipient as nodemailer takes it. */
export interface Recipient {
  readonly name: string;
  readonly address: string;
}

// Deliberately loose: the SMTP server is the judge of an address; this only tells an address from a note.
const ADDRESS = /^[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+$/;

/**
 * Reads a contact as written in config: `Director of Technology <tech@hilltop.example.org>` or a bare address.
 * Undefined when it holds no address (a district may write a name or a phone number there), so the caller can
 * leave that district's contact out instead of failing the whole alert.
 */
export function parseRecipient(contact: string): Recipient | undefined {
  const text = contact.trim();
  const angled = /^(.*?)\s*<([^<>]+)>\s*$/.exec(text);
  if (angled) {
    const address = angled[2]!.trim();
    if (!ADDRESS.test(address)) return undefined;
    return { name: angled[1]!.replace(/^"(.*)"$/, '$1').trim(), address };
  }
  return ADDRESS.test(text) ? { name: '', address: text } : undefined;
}

/** Parsed, with duplicates (same address, any case) dropped: a contact who is also in `email.to` gets one copy. */
export function recipientsOf(contacts: readonly (string | undefined)[]): Recipient[] {
  const seen = new Set<string>();
  const out: Recipient[] = [];
  for (const contact of contacts) {
    const r = contact === undefined ? undefined : parseRecipient(contact);
    if (!r || seen.has(r.address.toLowerCase())) continue;
    seen.add(r.address.toLowerCase());
    out.push(r);
  }
  return out;
}
