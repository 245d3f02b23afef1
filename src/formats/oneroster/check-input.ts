import { createReadStream } from 'node:fs';
import { TextDecoder } from 'node:util';

/** A file to check, read as a stream of bytes: a spooled CSV, a zip entry, or text already in memory. */
export interface CheckInput {
  /** Its name in the bundle or set ("users.csv"). */
  name: string;
  read(): AsyncIterable<Uint8Array>;
}

export function fileInput(name: string, path: string): CheckInput {
  return { name, read: () => createReadStream(path, { highWaterMark: 256 * 1024 }) };
}

export function textInput(name: string, text: string): CheckInput {
  return { name, read: () => toAsync([Buffer.from(text, 'utf8')]) };
}

async function* toAsync(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

/**
 * Streams an input's bytes as text to `push` (a BOM is kept, so that it can be reported); returns false when the bytes
 * are not valid UTF-8. Invalid bytes become U+FFFD and the check goes on, as it did when a whole file was decoded.
 */
export async function decodeInput(input: CheckInput, push: (text: string) => void): Promise<boolean> {
  const text = new TextDecoder('utf-8', { ignoreBOM: true });
  let strict: TextDecoder | undefined = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  for await (const chunk of input.read()) {
    strict = stillValid(strict, chunk, true);
    push(text.decode(chunk, { stream: true }));
  }
  strict = stillValid(strict, undefined, false);
  push(text.decode());
  return strict !== undefined;
}

/** The strict decoder runs beside the lenient one only to learn whether the bytes are valid; it stops at the first fault. */
function stillValid(strict: TextDecoder | undefined, chunk: Uint8Array | undefined, stream: boolean): TextDecoder | undefined {
  if (!strict) return undefined;
  try {
    strict.decode(chunk, { stream });
    return strict;
  } catch {
    return undefined;
  }
}
