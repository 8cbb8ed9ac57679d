/**
 * A streaming ZIP writer (APPNOTE 6.3.10), stored entries only: DICOM instances are mostly compressed already, and
 * storing keeps the export's bytes the de-identifier's bytes. No ZIP64: an archive past 4 GiB or 65,535 entries is
 * refused with an error before it would be written wrong. Every entry gets the fixed DOS time 1980-01-01 00:00 —
 * the real time of an export would be one more date next to de-identified data.
 */
import { crc32 } from 'node:zlib';
import { SrError } from '../core/index.ts';

export interface ZipEntry {
  readonly name: string;
  readonly data: Uint8Array;
}

const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const UTF8_FLAG = 0x0800;
const LIMIT = 0xffffffff;

export async function* zipStream(entries: AsyncIterable<ZipEntry> | Iterable<ZipEntry>): AsyncGenerator<Buffer> {
  const central: Buffer[] = [];
  let offset = 0;
  let count = 0;
  for await (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data) >>> 0;
    const size = e.data.length;
    if (offset + 30 + name.length + size > LIMIT || count + 1 > 0xffff) {
      throw new SrError('DEID_FAILED', 'the export is too large for a ZIP without ZIP64 (4 GiB or 65,535 files): export fewer studies at a time');
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(UTF8_FLAG, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(size, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(UTF8_FLAG, 8);
    cd.writeUInt16LE(0, 10);
    cd.writeUInt16LE(0, 12);
    cd.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(size, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    yield Buffer.concat([local, name]);
    yield Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
    offset += 30 + name.length + size;
    count++;
  }
  const cdBytes = Buffer.concat(central);
  if (offset + cdBytes.length > LIMIT) throw new SrError('DEID_FAILED', 'the export is too large for a ZIP without ZIP64');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  yield cdBytes;
  yield end;
}
