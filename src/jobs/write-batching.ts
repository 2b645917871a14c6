import { Cluster, type Redis } from 'ioredis';

/**
 * Makes a Redis connection send all the commands given to it in one turn of the event loop as one
 * write. ioredis writes each command to its socket as soon as it is given, one system call each;
 * with 50 steps in flight, a turn that reads a batch of replies gives out as many new commands,
 * and on virtual machines the system calls cost more CPU than the commands. Corking the socket
 * until the turn's check phase (setImmediate) hands them to the kernel in one `writev`, and Redis
 * answers them in one read too. Commands still leave in the turn they were given in, only a few
 * microseconds later (at its check phase). This is what ioredis's `enableAutoPipelining` aims at, without its per-turn Pipeline object
 * (which copies every defined script and measured slower here).
 */
export function batchWritesPerTurn(client: Redis | Cluster): void {
  if (client instanceof Cluster) {
    // The startup nodes are added while the Cluster is constructed; later ones as they appear.
    for (const node of client.nodes()) batchWritesPerTurn(node);
    client.on('+node', (node: Redis) => batchWritesPerTurn(node));
    return;
  }
  const cork = () => corkPerTurn(client.stream);
  client.on('connect', cork);
  if (client.status === 'connect' || client.status === 'ready') cork();
}

type Socket = Redis['stream'];

const corked = new WeakSet<Socket>();

function corkPerTurn(socket: Socket): void {
  // Each (re)connection has a new socket; the same one is only seen again on a repeated event.
  if (!socket || corked.has(socket)) return;
  corked.add(socket);
  const write = socket.write;
  let pending = false;
  const flush = () => {
    pending = false;
    socket.uncork();
  };
  socket.write = function writeThisTurn(this: Socket, ...args: Parameters<Socket['write']>) {
    if (!pending) {
      pending = true;
      socket.cork();
      setImmediate(flush);
    }
    return write.apply(this, args);
  } as Socket['write'];
}
