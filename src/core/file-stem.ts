/** File names made from identifiers that arrive from outside (UIDs, finding ids). */

/** A UID is digits and dots; anything else (non-conforming archives) must not escape the folder. */
export function safeFileStem(uid: string): string {
  const s = uid.replace(/[^0-9A-Za-z._-]/g, '_').replace(/^\.+/, '_');
  return s.length > 0 ? s.slice(0, 128) : 'series';
}
