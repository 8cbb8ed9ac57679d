/**
 * Result deliveries (forwarding of a result's DICOM objects to C-STORE destinations) in the index, so a delivery
 * survives restarts and several worker processes share them safely (types.ts DeliveryRecord).
 *
 * Exclusivity comes from one conditional UPDATE per claim, as for the stable-series claim: SQLite serializes
 * writers; on PostgreSQL (READ COMMITTED) a second claimer of the same row waits for the first one's row lock,
 * then re-checks the WHERE on the committed row, whose claim is no longer free, and skips it. Candidates are
 * read first so an idle poll writes (and fsyncs) nothing.
 */
import { randomUUID } from 'node:crypto';
import { ERROR_CATALOGUE, SrError } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { SqlDb, SqlRow, SqlValue } from './db.ts';
import type { DeliveryClaim, DeliveryInput, DeliveryOutcome, DeliveryRecord, DeliveryState } from './types.ts';

const COLUMNS =
  'id, result_id, destination, ae_title, host, port, generation, objects, remaining, state, attempts, max_attempts, ' +
  'error_code, error_message, next_attempt_at, claim_token, claim_expires_at, created_at, updated_at';

const STATES: readonly DeliveryState[] = ['queued', 'retrying', 'sent', 'failed'];

function uids(v: unknown): string[] {
  const parsed = JSON.parse(String(v)) as unknown;
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

function code(v: unknown): ErrorCode {
  const s = String(v);
  return Object.hasOwn(ERROR_CATALOGUE, s) ? (s as ErrorCode) : 'OUTPUT_FORWARD_FAILED';
}

function fromRow(r: SqlRow): DeliveryRecord {
  const state = String(r['state']) as DeliveryState;
  return {
    id: String(r['id']),
    resultId: String(r['result_id']),
    destination: String(r['destination']),
    target: { aeTitle: String(r['ae_title']), host: String(r['host']), port: Number(r['port']) },
    generation: Number(r['generation']),
    sopInstanceUids: uids(r['objects']),
    remaining: uids(r['remaining']),
    state: STATES.includes(state) ? state : 'failed',
    attempts: Number(r['attempts']),
    maxAttempts: Number(r['max_attempts']),
    error: r['error_code'] === null || r['error_code'] === undefined ? null : { code: code(r['error_code']), message: String(r['error_message'] ?? '') },
    nextAttemptAt: r['next_attempt_at'] === null || r['next_attempt_at'] === undefined ? null : String(r['next_attempt_at']),
    createdAt: String(r['created_at']),
    updatedAt: String(r['updated_at']),
  };
}

function claimFromRow(r: SqlRow): DeliveryClaim {
  return { ...fromRow(r), claimToken: String(r['claim_token']), claimExpiresAt: String(r['claim_expires_at']) };
}

function checkInput(d: DeliveryInput): void {
  if (!Number.isInteger(d.maxAttempts) || d.maxAttempts < 1 || d.destination.length === 0 || !Number.isInteger(d.target.port)) {
    throw new SrError('OUTPUT_FORWARD_FAILED', `invalid delivery to ${JSON.stringify(d.destination)}`, { details: { destination: d.destination, maxAttempts: d.maxAttempts } });
  }
}

export async function replaceDeliveries(db: SqlDb, resultId: string, deliveries: readonly DeliveryInput[], now: Date = new Date()): Promise<DeliveryRecord[]> {
  deliveries.forEach(checkInput);
  const at = now.toISOString();
  return db.tx(async (q) => {
    const keep = deliveries.map((d) => d.destination);
    const existing = await q.all('SELECT destination FROM result_deliveries WHERE result_id = ?', [resultId]);
    for (const r of existing) {
      const dest = String(r['destination']);
      if (!keep.includes(dest)) await q.run('DELETE FROM result_deliveries WHERE result_id = ? AND destination = ?', [resultId, dest]);
    }
    const out: DeliveryRecord[] = [];
    for (const d of deliveries) {
      const objects = JSON.stringify(d.sopInstanceUids);
      // The claim columns are left as they are: an attempt of the old objects in flight ends (its outcome is
      // dropped, generation mismatch) before anyone can claim the new ones.
      const rows = await q.all(
        `INSERT INTO result_deliveries (id, result_id, destination, ae_title, host, port, generation, objects, remaining, state, attempts,
           max_attempts, error_code, error_message, next_attempt_at, claim_token, claimed_by, claim_expires_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, 'queued', 0, ?, NULL, NULL, ?, NULL, NULL, NULL, ?, ?)
         ON CONFLICT (result_id, destination) DO UPDATE SET ae_title = excluded.ae_title, host = excluded.host, port = excluded.port,
           generation = result_deliveries.generation + 1, objects = excluded.objects, remaining = excluded.remaining, state = 'queued',
           attempts = 0, max_attempts = excluded.max_attempts, error_code = NULL, error_message = NULL,
           next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at
         RETURNING ${COLUMNS}`,
        [randomUUID(), resultId, d.destination, d.target.aeTitle, d.target.host, d.target.port, objects, objects, d.maxAttempts, at, at, at],
      );
      const row = rows[0];
      if (!row) throw new SrError('ARCHIVE_UNAVAILABLE', 'delivery upsert returned no row');
      out.push(fromRow(row));
    }
    return out;
  });
}

export async function listDeliveries(db: SqlDb, filter: { resultId?: string; pending?: boolean }): Promise<DeliveryRecord[]> {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (filter.resultId !== undefined) {
    where.push('result_id = ?');
    params.push(filter.resultId);
  }
  if (filter.pending === true) where.push('next_attempt_at IS NOT NULL');
  const rows = await db.all(`SELECT ${COLUMNS} FROM result_deliveries${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY result_id, destination`, params);
  return rows.map(fromRow);
}

export async function claimDeliveries(db: SqlDb, o: { owner: string; leaseMs: number; limit: number; now?: Date }): Promise<DeliveryClaim[]> {
  const at = o.now ?? new Date();
  const now = at.toISOString();
  const expires = new Date(at.getTime() + o.leaseMs).toISOString();
  const token = randomUUID();
  const due = 'next_attempt_at IS NOT NULL AND next_attempt_at <= ? AND (claim_expires_at IS NULL OR claim_expires_at <= ?)';
  const claimed: DeliveryClaim[] = [];
  // Claimers that read the same candidates race for them: a loser looks again (a few rounds) for the ones left.
  for (let round = 0; round < 3; round++) {
    const limit = Math.max(0, Math.floor(o.limit)) - claimed.length;
    if (limit <= 0) break;
    const ids = (await db.all(`SELECT id FROM result_deliveries WHERE ${due} ORDER BY next_attempt_at, id LIMIT ?`, [now, now, limit])).map((r) => String(r['id']));
    if (ids.length === 0) break;
    const rows = await db.all(
      `UPDATE result_deliveries SET claim_token = ?, claimed_by = ?, claim_expires_at = ?, attempts = attempts + 1, updated_at = ?
       WHERE id IN (${ids.map(() => '?').join(', ')}) AND ${due}
       RETURNING ${COLUMNS}`,
      [token, o.owner, expires, now, ...ids, now, now],
    );
    claimed.push(...rows.map(claimFromRow).sort((x, y) => ids.indexOf(x.id) - ids.indexOf(y.id)));
    if (rows.length === ids.length) break;
  }
  return claimed;
}

export async function renewDeliveryClaim(db: SqlDb, claim: Pick<DeliveryClaim, 'id' | 'claimToken'>, leaseMs: number, now: Date = new Date()): Promise<boolean> {
  const changed = await db.run('UPDATE result_deliveries SET claim_expires_at = ? WHERE id = ? AND claim_token = ?', [
    new Date(now.getTime() + leaseMs).toISOString(), claim.id, claim.claimToken,
  ]);
  return changed > 0;
}

export async function finishDeliveryAttempt(
  db: SqlDb, claim: Pick<DeliveryClaim, 'id' | 'claimToken' | 'generation'>, outcome: DeliveryOutcome, now: Date = new Date(),
): Promise<boolean> {
  const next = outcome.state === 'retrying' ? (outcome.nextAttemptAt ?? now.toISOString()) : null;
  const recorded = await db.run(
    `UPDATE result_deliveries SET state = ?, remaining = ?, error_code = ?, error_message = ?, next_attempt_at = ?, updated_at = ?,
       claim_token = NULL, claimed_by = NULL, claim_expires_at = NULL
     WHERE id = ? AND claim_token = ? AND generation = ?`,
    [outcome.state, JSON.stringify(outcome.remaining), outcome.error?.code ?? null, outcome.error?.message ?? null, next, now.toISOString(),
      claim.id, claim.claimToken, claim.generation],
  );
  if (recorded > 0) return true;
  // Superseded meanwhile (still ours to release) or lost: the new objects' delivery may now be claimed.
  await db.run('UPDATE result_deliveries SET claim_token = NULL, claimed_by = NULL, claim_expires_at = NULL WHERE id = ? AND claim_token = ?', [claim.id, claim.claimToken]);
  return false;
}
