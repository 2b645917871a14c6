import type { ChildMessage } from './processes.js';

/**
 * The child's half of the IPC protocol in processes.ts: wait for the start message, set up, say
 * `ready`, answer requests (`type` → `type:done`), and stop cleanly on `stop`.
 */

export interface ChildRole {
  /** Fields sent with `ready`. */
  ready?: Record<string, unknown>;
  /** Request handlers by message type; their result is sent back as `<type>:done`. */
  handlers?: Record<string, (message: ChildMessage) => Promise<Record<string, unknown> | undefined>>;
  stop(): Promise<void>;
}

export function runChild(setup: (start: ChildMessage) => Promise<ChildRole>): void {
  const send = (message: ChildMessage) => process.send?.(message);
  // The bench died without stopping us (a crash, Ctrl-C): nobody is left to ask, so leave too.
  process.once('disconnect', () => process.exit(1));
  process.once('message', (start: ChildMessage) => {
    setup(start).then(
      (role) => {
        process.on('message', (message: ChildMessage) => {
          if (message.type === 'stop') {
            role.stop().then(
              () => process.exit(0),
              (error: unknown) => {
                process.stderr.write(`bench child failed to stop: ${String(error)}\n`);
                process.exit(1);
              },
            );
            return;
          }
          const handler = role.handlers?.[message.type];
          if (!handler) return;
          handler(message).then(
            (answer) => send({ ...answer, type: `${message.type}:done` }),
            (error: unknown) => send({ type: `${message.type}:done`, error: String(error) }),
          );
        });
        send({ ...role.ready, type: 'ready' });
      },
      (error: unknown) => {
        process.stderr.write(`bench child failed to start: ${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  });
}
