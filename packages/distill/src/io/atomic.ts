// Atomic file writes (Node only): write a temporary file in the target's directory,
// fsync it, rename it over the target, then fsync the directory. A reader sees the old
// file or the new one, never half of one; on any error the temporary file is removed.

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Writes `bytes` (one buffer, or several written in order) to `path` atomically. */
export function writeFileAtomic(path: string, bytes: Uint8Array | readonly Uint8Array[]): void {
  const parts = bytes instanceof Uint8Array ? [bytes] : bytes;
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    for (const part of parts) {
      for (let off = 0; off < part.length;) off += writeSync(fd, part, off, part.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== null) { try { closeSync(fd); } catch { /* already failing */ } }
    try { unlinkSync(tmp); } catch { /* never created, or already renamed */ }
    throw err;
  }
  syncDirectory(dir);
}

/** Makes the rename durable; best effort (some platforms cannot fsync a directory). */
export function syncDirectory(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some file systems refuse; the rename itself is still atomic.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
