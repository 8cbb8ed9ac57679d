import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandPdu, encodeCStoreResponse } from './fast-response.ts';
import { Dataset, requests, responses } from './lib.ts';

test('the direct C-STORE-RSP encoding is byte for byte what dcmjs-dimse writes', () => {
  const cases: Array<{ status: number; comment?: string; uid: string; messageId?: number }> = [
    { status: 0x0000, uid: '1.2.3.4', messageId: 1 },
    { status: 0xa700, comment: 'cannot write temp file', uid: '1.2.840.113619.2.55.3.604688119.969.1268071029.320', messageId: 65535 },
    { status: 0xc000, comment: 'odd', uid: '1.2.3', messageId: 7 },
    { status: 0x0000, uid: '1.2.3.45' },
  ];
  for (const c of cases) {
    const req = new requests.CStoreRequest(new Dataset({ SOPClassUID: '1.2.840.10008.5.1.4.1.1.2', SOPInstanceUID: c.uid }, '1.2.840.10008.1.2.1'));
    if (c.messageId !== undefined) req.setMessageId(c.messageId);
    const r = responses.CStoreResponse.fromRequest(req);
    r.setStatus(c.status);
    if (c.comment) r.setErrorComment(c.comment);
    const cd = r.getCommandDataset();
    const ours = encodeCStoreResponse(cd.getElements() as Record<string, unknown>);
    assert.ok(ours);
    assert.equal(ours.toString('hex'), Buffer.from(cd.getDenaturalizedCommandDataset()).toString('hex'), JSON.stringify(c));
  }
});

test('anything but a plain C-STORE-RSP is left to the library', () => {
  assert.equal(encodeCStoreResponse({ CommandField: 0x8030, Status: 0 }), undefined);
  assert.equal(encodeCStoreResponse({ CommandField: 0x8001, Status: 0, OffendingElement: [1] }), undefined);
  const pdu = commandPdu(3, Buffer.from([1, 2]));
  assert.equal(pdu.toString('hex'), '04000000000800000004' + '0303' + '0102');
});
