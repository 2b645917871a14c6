import { createHash, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { type RequestHandler, Router } from 'express';
import type { Logger } from 'pino';
import type { Secret } from '../config/secret.js';

/**
 * The BullMQ dashboard (bull-board) behind HTTP Basic authentication. Read-only by default: the
 * queues are registered with bull-board's `readOnlyMode` (no retry, clean, remove or promote
 * buttons, and its API answers 405), and anything but GET or HEAD is refused before it reaches
 * bull-board at all, so a route added by a later bull-board release cannot change a queue either.
 */

export interface DashboardOptions {
  /** Mount path, e.g. `/admin/queues` (bull-board needs it for its links and assets). */
  path: string;
  username: string;
  password: Secret;
  readOnly: boolean;
  queues: Queue[];
  log: Logger;
}

export function queueDashboard(options: DashboardOptions): Router {
  const board = new ExpressAdapter();
  board.setBasePath(options.path);
  createBullBoard({
    queues: options.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: options.readOnly })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'opsbot queues' } },
  });

  const router = Router();
  router.use(basicAuth(options));
  router.use((req, res, next) => {
    res.set('Cache-Control', 'no-store');
    if (!options.readOnly || req.method === 'GET' || req.method === 'HEAD') return next();
    res
      .status(405)
      .set('Allow', 'GET, HEAD')
      .json({ error: 'the dashboard is read-only (dashboard.readOnly in the config)' });
  });
  const boardApp: RequestHandler = board.getRouter();
  router.use(boardApp);
  options.log.info({ path: options.path, readOnly: options.readOnly }, 'queue dashboard mounted');
  return router;
}

/**
 * Compares SHA-256 digests of `user:password` with `timingSafeEqual`: equal lengths whatever was
 * sent, and no early exit on the first differing byte. Only the digest of the password is kept.
 */
function basicAuth({ username, password, log }: DashboardOptions): RequestHandler {
  const expected = digest(`${username}:${password.reveal()}`);
  return (req, res, next) => {
    const given = credentials(req.headers.authorization);
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return next();
    if (given !== undefined) log.warn({ ip: req.ip }, 'queue dashboard: wrong username or password');
    res
      .status(401)
      .set('WWW-Authenticate', 'Basic realm="opsbot dashboard", charset="UTF-8"')
      .type('text/plain')
      .send('Authentication required.');
  };
}

/** The decoded `user:password` of an `Authorization: Basic …` header (RFC 7617). */
function credentials(header: string | undefined): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  return match ? Buffer.from(match[1]!, 'base64').toString('utf8') : undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
