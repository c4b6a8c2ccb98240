/**
 * Redis Cluster hash slot of a key (CRC16/XMODEM of the key or of its `{hash tag}`, mod 16384),
 * as the Cluster specification defines it. The Redis store groups a request's descriptors by this
 * number so that descriptors sharing a slot go to one script call; ioredis routes each call itself.
 */

export const CLUSTER_SLOTS = 16384;

const CRC16_TABLE = buildTable();

/** Polynomial 0x1021, initial value 0, no reflection (the XMODEM variant Redis uses). */
function buildTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    table[byte] = crc & 0xffff;
  }
  return table;
}

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  }
  return crc;
}

/**
 * Only the part between the first `{` and the next `}` is hashed, if that part is non-empty;
 * otherwise the whole key is (Cluster specification, "Hash tags").
 */
function hashedPart(key: Buffer): Buffer {
  const open = key.indexOf("{");
  if (open === -1) return key;
  const close = key.indexOf("}", open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.subarray(open + 1, close);
}

/** The slot of a key given as a JavaScript string, sent to Redis as UTF-8 (as ioredis does). */
export function clusterSlot(key: string): number {
  return crc16(hashedPart(Buffer.from(key, "utf8"))) % CLUSTER_SLOTS;
}
