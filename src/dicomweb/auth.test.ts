/** DICOMweb behind the server's auth hook: Basic credentials as PACS and viewers send them; roles per docs/security.md. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { CT_SMALL, STOW_TYPE, type TestServer, multipartBody, startTestServer } from './test-support.ts';

describe('DICOMweb access control', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ auth: true });
  });
  after(async () => {
    await s?.close();
  });

  test('STOW-RS: technologist stores; researcher refused (403); anonymous 401 with a Basic challenge', async () => {
    const body = multipartBody([await readFile(CT_SMALL)]);
    const stow = (headers: Record<string, string>) => s.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { ...headers, 'content-type': STOW_TYPE, accept: 'application/dicom+json' }, payload: body });
    const anon = await stow({});
    assert.equal(anon.statusCode, 401);
    assert.match(String(anon.headers['www-authenticate']), /Basic realm="SecondReader"/);
    assert.equal((await stow(await s.basicAuth('researcher'))).statusCode, 403);
    assert.equal(s.stored.length, 0, 'nothing stored by refused requests');
    assert.equal((await stow(await s.basicAuth('technologist'))).statusCode, 200);
    assert.equal(s.stored.length, 1);
  });

  test('QIDO-RS / WADO-RS: clinical roles read; researchers never', async () => {
    for (const role of ['radiologist', 'technologist', 'admin'] as const) {
      const r = await s.app.inject({ method: 'GET', url: '/dicom-web/studies', headers: { ...(await s.basicAuth(role)), accept: 'application/dicom+json' } });
      assert.equal(r.statusCode, 200, role);
      assert.equal((r.json() as unknown[]).length, 1);
    }
    const r = await s.app.inject({ method: 'GET', url: '/dicom-web/studies', headers: await s.basicAuth('researcher') });
    assert.deepEqual([r.statusCode, r.json<{ code: string }>().code], [403, 'FORBIDDEN']);
  });
});
