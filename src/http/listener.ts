import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One HTTP server on its port, stopped in two steps so requests in flight can finish. */
export class Listener {
  /** Where to reach it from this machine, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
    const { address, port } = server.address() as AddressInfo;
    const wildcard = address === '0.0.0.0' || address === '::';
    const host = wildcard ? '127.0.0.1' : address.includes(':') ? `[${address}]` : address;
    this.url = `http://${host}:${port}`;
  }

  static async open(handler: RequestListener, port: number, host: string): Promise<Listener> {
    const server = createServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new Listener(server);
  }

  /** Stops taking connections and drops idle ones; resolves once the last one has closed. */
  stopAccepting(): Promise<void> {
    this.#server.closeIdleConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** Drops the connections still open (after their grace). */
  closeAll(): void {
    this.#server.closeAllConnections();
  }
}
