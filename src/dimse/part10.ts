/**
 * The Part 10 framing around a DIMSE dataset (PS3.10 7.1): 128-byte preamble, "DICM", then the File Meta group
 * (0002) in explicit VR little endian. A C-STORE carries only the dataset, in the accepted transfer syntax; we
 * write the meta group in front of it as it streams to disk, and strip it again when we send a stored file.
 */
import { open } from 'node:fs/promises';
import { SrError } from '../core/errors.ts';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../dicom/index.ts';

export interface MetaInfo {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly transferSyntaxUid: string;
  readonly sourceAe?: string;
}

function element(group: number, elem: number, vr: string, value: Buffer): Buffer {
  const long = vr === 'OB' || vr === 'OW' || vr === 'UN' || vr === 'SQ' || vr === 'UT';
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(elem, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}

function text(value: string, pad: string): Buffer {
  const s = value.length % 2 === 1 ? value + pad : value;
  return Buffer.from(s, 'latin1');
}

/** Preamble + DICM + File Meta Information for a dataset received over DIMSE. */
export function buildPart10Header(meta: MetaInfo): Buffer {
  const elements = [
    element(0x0002, 0x0001, 'OB', Buffer.from([0, 1])),
    element(0x0002, 0x0002, 'UI', text(meta.sopClassUid, '\0')),
    element(0x0002, 0x0003, 'UI', text(meta.sopInstanceUid, '\0')),
    element(0x0002, 0x0010, 'UI', text(meta.transferSyntaxUid, '\0')),
    element(0x0002, 0x0012, 'UI', text(IMPLEMENTATION_CLASS_UID, '\0')),
    element(0x0002, 0x0013, 'SH', text(IMPLEMENTATION_VERSION_NAME, ' ')),
  ];
  const ae = meta.sourceAe?.trim();
  if (ae) elements.push(element(0x0002, 0x0016, 'AE', text(ae.slice(0, 16), ' ')));
  const body = Buffer.concat(elements);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(body.length, 0);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), element(0x0002, 0x0000, 'UL', groupLength), body]);
}

export interface Part10Info {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly transferSyntaxUid: string;
  /** Byte offset of the dataset (first element after the meta group). */
  readonly dataOffset: number;
}

function uiText(buf: Uint8Array, start: number, length: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, length).toString('latin1').replace(/[\0 ]+$/, '');
}

/**
 * Reads the File Meta group of a Part 10 file (explicit VR LE by definition). Throws DICOM_NOT_DICOM without the
 * preamble, DICOM_TRUNCATED when the group runs past `bytes` (the caller may retry with more), DICOM_MISSING_ATTRIBUTE
 * without SOP class, instance or transfer syntax.
 */
export function readPart10Info(bytes: Uint8Array, source: string): Part10Info {
  if (bytes.length < 132 || Buffer.from(bytes.buffer, bytes.byteOffset + 128, 4).toString('latin1') !== 'DICM') {
    throw new SrError('DICOM_NOT_DICOM', `${source}: no DICM preamble (Part 10 file expected)`, { details: { source } });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 132;
  const found: Record<number, string> = {};
  while (pos + 8 <= bytes.length) {
    const group = view.getUint16(pos, true);
    if (group !== 0x0002) break;
    const elem = view.getUint16(pos + 2, true);
    const vr = String.fromCharCode(bytes[pos + 4] ?? 0, bytes[pos + 5] ?? 0);
    let length: number;
    let valueStart: number;
    if (vr === 'OB' || vr === 'OW' || vr === 'UN' || vr === 'SQ' || vr === 'UT' || vr === 'UC' || vr === 'UR') {
      if (pos + 12 > bytes.length) break;
      length = view.getUint32(pos + 8, true);
      valueStart = pos + 12;
    } else {
      length = view.getUint16(pos + 6, true);
      valueStart = pos + 8;
    }
    if (valueStart + length > bytes.length) {
      throw new SrError('DICOM_TRUNCATED', `${source}: file meta group truncated`, { details: { source } });
    }
    if (elem === 0x0002 || elem === 0x0003 || elem === 0x0010) found[elem] = uiText(bytes, valueStart, length);
    pos = valueStart + length;
  }
  if (pos + 8 > bytes.length) {
    // The meta group may continue past what the caller read.
    throw new SrError('DICOM_TRUNCATED', `${source}: file ends inside the file meta group`, { details: { source } });
  }
  const sopClassUid = found[0x0002];
  const sopInstanceUid = found[0x0003];
  const transferSyntaxUid = found[0x0010];
  if (!sopClassUid || !sopInstanceUid || !transferSyntaxUid) {
    throw new SrError('DICOM_MISSING_ATTRIBUTE', `${source}: file meta lacks SOP class, SOP instance or transfer syntax UID`, { details: { source } });
  }
  return { sopClassUid, sopInstanceUid, transferSyntaxUid, dataOffset: pos };
}

/** readPart10Info on the head of a file: reads 16 KiB, then the whole file if the meta group is longer. */
export async function readPart10InfoFromFile(path: string): Promise<Part10Info> {
  const fh = await open(path, 'r').catch((e: unknown) => {
    throw new SrError('IO_ERROR', `cannot open ${path}`, { cause: e, details: { path } });
  });
  try {
    const head = Buffer.alloc(16384);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    try {
      return readPart10Info(head.subarray(0, bytesRead), path);
    } catch (e) {
      if (!(e instanceof SrError && e.code === 'DICOM_TRUNCATED') || bytesRead < head.length) throw e;
      return readPart10Info(await fh.readFile(), path);
    }
  } finally {
    await fh.close();
  }
}
