/**
 * Test helper run as a child process by trail.test.ts: appends N events to the trail of the index named on the
 * command line, so two processes append at once (the cross-process serialization under test).
 * Usage: node --import tsx append-child.ts '<AuditDbConfig JSON>' <count> <label>
 */
import { silentLogger } from '../../core/index.ts';
import { openAuditDb } from './open.ts';
import type { AuditDbConfig } from './open.ts';
import { AuditTrail } from './trail.ts';

const [config = '{}', count = '0', label = 'child'] = process.argv.slice(2);
const db = await openAuditDb(JSON.parse(config) as AuditDbConfig);
try {
  const trail = await AuditTrail.open(db, { log: silentLogger });
  for (let i = 0; i < Number(count); i++) {
    await trail.append({ action: 'read', outcome: 'success', actor: label, source: '127.0.0.1', object: `GET /x/${i}`, details: { i } });
  }
} finally {
  await db.close();
}
