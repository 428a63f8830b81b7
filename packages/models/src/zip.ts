/**
 * Read-only ZIP archive access for `torch.save` files (own code, no dependency).
 *
 * Since PyTorch 1.6, `torch.save` writes a ZIP (through miniz) of stored, uncompressed entries,
 * each padded to a 64-byte boundary, with ZIP64 records for large files. We read the central
 * directory (the list of entries at the end of the file), check every offset against the file
 * size, and return each entry's bytes on demand after checking its CRC-32. Deflated entries
 * (an archive repacked by another tool) are inflated with node:zlib.
 */
import { crc32, inflateRawSync } from 'node:zlib';

export class ZipError extends Error {
  override name = 'ZipError';
}

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  /** Offset of the entry's local header. */
  headerOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
/** End-of-central-directory record: 22 bytes plus a comment of at most 65535. */
const EOCD_MAX_SEARCH = 22 + 0xffff;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  /** `name` labels errors (the file path, or a description of the bytes). */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly name: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readCentralDirectory();
  }

  private fail(offset: number, what: string): never {
    throw new ZipError(`${this.name}: zip offset ${offset}: ${what}`);
  }

  private u16(at: number): number {
    if (at < 0 || at + 2 > this.bytes.length) this.fail(at, `read past the end of the ${this.bytes.length}-byte file (truncated?)`);
    return this.view.getUint16(at, true);
  }

  private u32(at: number): number {
    if (at < 0 || at + 4 > this.bytes.length) this.fail(at, `read past the end of the ${this.bytes.length}-byte file (truncated?)`);
    return this.view.getUint32(at, true);
  }

  private u64(at: number): number {
    if (at < 0 || at + 8 > this.bytes.length) this.fail(at, `read past the end of the ${this.bytes.length}-byte file (truncated?)`);
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(at, `64-bit field ${v} is out of range`);
    return Number(v);
  }

  private findEocd(): number {
    const lowest = Math.max(0, this.bytes.length - EOCD_MAX_SEARCH);
    for (let at = this.bytes.length - 22; at >= lowest; at--) {
      if (this.view.getUint32(at, true) === EOCD_SIG) return at;
    }
    return this.fail(this.bytes.length, 'no end-of-central-directory record: the file is truncated or not a zip archive');
  }

  private readCentralDirectory(): void {
    if (this.bytes.length < 22) this.fail(0, `file is ${this.bytes.length} bytes, too short for a zip archive`);
    const eocd = this.findEocd();
    let count = this.u16(eocd + 10);
    let cdSize = this.u32(eocd + 12);
    let cdOffset = this.u32(eocd + 16);
    // ZIP64: the 32-bit fields hold 0xffff/0xffffffff and the real values sit in the ZIP64 record.
    if (eocd >= 20 && this.u32(eocd - 20) === EOCD64_LOCATOR_SIG) {
      const rec = this.u64(eocd - 20 + 8);
      if (this.u32(rec) !== EOCD64_SIG) this.fail(rec, 'ZIP64 end-of-central-directory record expected');
      count = this.u64(rec + 32);
      cdSize = this.u64(rec + 40);
      cdOffset = this.u64(rec + 48);
    }
    if (cdOffset + cdSize > this.bytes.length) {
      this.fail(cdOffset, `central directory (${cdSize} bytes) runs past the end of the ${this.bytes.length}-byte file (truncated?)`);
    }
    let at = cdOffset;
    for (let i = 0; i < count; i++) {
      if (this.u32(at) !== CENTRAL_SIG) this.fail(at, `central directory entry ${i} of ${count} has a bad signature`);
      const method = this.u16(at + 10);
      const crc = this.u32(at + 16);
      let compressedSize = this.u32(at + 20);
      let size = this.u32(at + 24);
      const nameLen = this.u16(at + 28);
      const extraLen = this.u16(at + 30);
      const commentLen = this.u16(at + 32);
      let headerOffset = this.u32(at + 42);
      if (at + 46 + nameLen > this.bytes.length) this.fail(at, 'entry name runs past the end of the file');
      const name = new TextDecoder('utf-8').decode(this.bytes.subarray(at + 46, at + 46 + nameLen));
      // ZIP64 extended information (extra field 0x0001) holds, in order, the fields that overflowed.
      for (let e = at + 46 + nameLen, end = e + extraLen; e + 4 <= end; ) {
        const id = this.u16(e);
        const len = this.u16(e + 2);
        if (id === 0x0001) {
          let f = e + 4;
          if (size === 0xffffffff) (size = this.u64(f)), (f += 8);
          if (compressedSize === 0xffffffff) (compressedSize = this.u64(f)), (f += 8);
          if (headerOffset === 0xffffffff) headerOffset = this.u64(f);
        }
        e += 4 + len;
      }
      if (headerOffset + 30 > this.bytes.length) this.fail(at, `entry '${name}' starts at ${headerOffset}, past the end of the file`);
      this.entries.set(name, { name, method, compressedSize, size, crc, headerOffset });
      at += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** The bytes of an entry (a view into the file for stored entries), CRC-checked. */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new ZipError(`${this.name}: no entry '${name}' in the zip archive`);
    const h = e.headerOffset;
    if (this.u32(h) !== LOCAL_SIG) this.fail(h, `entry '${name}': bad local header signature`);
    const start = h + 30 + this.u16(h + 26) + this.u16(h + 28);
    if (start + e.compressedSize > this.bytes.length) {
      this.fail(start, `entry '${name}' (${e.compressedSize} bytes) runs past the end of the ${this.bytes.length}-byte file (truncated?)`);
    }
    const raw = this.bytes.subarray(start, start + e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        data = inflateRawSync(raw);
      } catch (err) {
        this.fail(start, `entry '${name}': cannot inflate (${(err as Error).message})`);
      }
    } else this.fail(h, `entry '${name}': compression method ${e.method} is not supported (stored and deflate are)`);
    if (data.length !== e.size) this.fail(start, `entry '${name}' holds ${data.length} bytes, the directory says ${e.size}`);
    if (crc32(data) >>> 0 !== e.crc >>> 0) this.fail(start, `entry '${name}': CRC-32 mismatch (the file is corrupted)`);
    return data;
  }
}
