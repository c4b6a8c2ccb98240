import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeUtf8Lossless } from "./lossless-utf8.ts";

const decode = (bytes: readonly number[] | Buffer) => {
  const buffer = Buffer.from(bytes);
  return decodeUtf8Lossless(buffer, 0, buffer.length);
};

/** The inverse mapping: code points back to UTF-8, each U+DC80–U+DCFF back to its byte. */
function encodeBack(text: string): Buffer {
  const out: number[] = [];
  for (const char of text) {
    const unit = char.charCodeAt(0);
    if (char.length === 1 && unit >= 0xdc80 && unit <= 0xdcff) out.push(unit - 0xdc00);
    else out.push(...Buffer.from(char, "utf8"));
  }
  return Buffer.from(out);
}

describe("decodeUtf8Lossless", () => {
  it.each([
    ["empty", ""],
    ["ASCII", "acme-42"],
    ["multi-byte", "é中😀"],
    ["a leading U+FEFF, which is text here, not a byte-order mark", "\ufeffacme"],
    ["a genuine U+FFFD", "a\ufffdb"],
    ["NUL", "a\u0000b"],
  ])("decodes valid UTF-8 (%s) exactly as a UTF-8 decoder does", (_name, text) => {
    const bytes = Buffer.from(text, "utf8");
    expect(decode(bytes)).toBe(text);
    expect(decode(bytes)).toBe(new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes));
  });

  it.each([
    ["a lone 0xff", [0x61, 0xff], "a\udcff"],
    ["a lone continuation byte", [0x80, 0x62], "\udc80b"],
    ["a truncated sequence", [0xe2, 0x82], "\udce2\udc82"],
    ["a truncated sequence before valid text", [0xe2, 0x82, 0xc3, 0xa9], "\udce2\udc82é"],
    ["an overlong NUL", [0xc0, 0x80], "\udcc0\udc80"],
    ["an encoded surrogate", [0xed, 0xa0, 0x80], "\udced\udca0\udc80"],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], "\udcf4\udc90\udc80\udc80"],
    ["0xfe", [0xfe], "\udcfe"],
  ])("escapes each byte of %s as U+DC00 + byte", (_name, bytes, text) => {
    expect(decode(bytes)).toBe(text);
  });

  it("decodes only the given range", () => {
    const bytes = Buffer.from([0x78, 0xff, 0x61, 0xfe, 0x78]);
    expect(decodeUtf8Lossless(bytes, 1, 4)).toBe("\udcffa\udcfe");
  });

  it("keeps every byte sequence apart: encoding the text back gives the bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        expect(encodeBack(decode(Buffer.from(bytes)))).toEqual(Buffer.from(bytes));
      }),
      { numRuns: 5_000 },
    );
  });

  it("is the identity on well-formed text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 24 }), (text) => {
        expect(decode(Buffer.from(text, "utf8"))).toBe(text);
      }),
      { numRuns: 2_000 },
    );
  });
});
