import type { Socket } from 'node:net';

type Handoff = (...args: unknown[]) => void;

/**
 * How many times these sockets handed data to the kernel while `work` ran: a stream calls
 * `_write` for one chunk and `_writev` for several, one system call each. For checking that
 * Redis connections batch their commands (jobs/write-batching.ts).
 */
export async function countSocketWrites<T>(
  sockets: Socket[],
  work: () => Promise<T>,
): Promise<{ writes: number; answer: T }> {
  let writes = 0;
  const restore = sockets.map((socket) => {
    const stream = socket as unknown as { _write: Handoff; _writev?: Handoff };
    const { _write, _writev } = stream;
    stream._write = (...args) => {
      writes += 1;
      _write.apply(socket, args);
    };
    if (_writev) {
      stream._writev = (...args) => {
        writes += 1;
        _writev.apply(socket, args);
      };
    }
    return () => Object.assign(stream, { _write, _writev });
  });
  try {
    const answer = await work();
    return { writes, answer };
  } finally {
    for (const undo of restore) undo();
  }
}
