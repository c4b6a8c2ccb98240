import { isUtf8 } from "node:buffer";

/**
 * Protobuf string fields as text, without merging values that differ on the wire.
 *
 * A string field should hold UTF-8, but a client can put any bytes in a header Envoy turns into a
 * descriptor value (0x80–0xff are legal in HTTP/1 header values). A UTF-8 decoder would turn every
 * invalid sequence into U+FFFD, so `a\xff` and `a\xfe` would read alike and share one counter. Here
 * valid UTF-8 decodes exactly as any decoder would (so counter ids and Redis keys of valid input do
 * not change), and each byte of an invalid sequence becomes the lone surrogate U+DC00 + byte
 * ("surrogateescape", as Python does for file names). Valid UTF-8 never decodes to a lone
 * surrogate, so the mapping is one-to-one: different bytes, different text, different counters.
 * Rules still match such text (a bare key or a `*` matches any value); counter-key.ts hashes ids as
 * UTF-16 code units, so the surrogates reach the key; text written out as UTF-8 (a metrics label, a
 * log line) shows U+FFFD in their place.
 */
export function decodeUtf8Lossless(bytes: Buffer, start: number, end: number): string {
  if (end - start <= ASCII_MAX_LENGTH) {
    const ascii = shortAscii(bytes, start, end);
    if (ascii !== undefined) return ascii;
  }
  const text = bytes.toString("utf8", start, end);
  // Only an invalid sequence or a genuine U+FFFD puts U+FFFD into the text: most strings stop here.
  if (!text.includes("\uFFFD") || isUtf8(bytes.subarray(start, end))) return text;
  let out = "";
  let run = start;
  for (let at = start; at < end; ) {
    const length = sequenceLength(bytes, at, end);
    if (length > 0) {
      at += length;
      continue;
    }
    out += bytes.toString("utf8", run, at) + String.fromCharCode(0xdc00 | (bytes[at] as number));
    run = ++at;
  }
  return out + bytes.toString("utf8", run, end);
}

/**
 * Descriptor keys and values are mostly short ASCII (tenants, plans, routes, API keys). Copied in
 * JavaScript they cost no call into C++ per string, about a third of the decoding time saved
 * (@bufbuild/protobuf, which the generated decoder uses, does the same up to this length).
 */
const ASCII_MAX_LENGTH = 32;

function shortAscii(bytes: Buffer, start: number, end: number): string | undefined {
  const codes = new Array<number>(end - start);
  for (let i = start; i < end; i++) {
    const byte = bytes[i] as number;
    if (byte > 0x7f) return undefined;
    codes[i - start] = byte;
  }
  return String.fromCharCode.apply(String, codes);
}

/**
 * The length of the well-formed UTF-8 sequence at `at`, or 0 when none starts there (Unicode
 * Table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
 */
function sequenceLength(bytes: Buffer, at: number, end: number): number {
  const lead = bytes[at] as number;
  if (lead < 0x80) return 1;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else return 0;
  if (at + length > end) return 0;
  const second = bytes[at + 1] as number;
  if (second < low || second > high) return 0;
  for (let i = 2; i < length; i++) {
    const next = bytes[at + i] as number;
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return length;
}
