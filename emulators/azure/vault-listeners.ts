import { createServer, type Server } from "node:https";
import type { Socket } from "node:net";
import type { CertificateAuthority } from "../shared/tls.ts";
import { issueServerCertificate } from "../shared/tls.ts";

type RequestListener = Parameters<typeof createServer>[1];

interface Listener {
  server: Server;
  uri: string;
  reachable: boolean;
  sockets: Set<Socket>;
}

/**
 * One HTTPS listener per vault name, so each vault has its own origin (the
 * Key Vault client rejects ids with a path prefix). A name keeps its port for
 * the emulator's lifetime, as a vault name keeps its DNS name in Azure: a
 * vault recovered or re-created after a purge answers at the same URI. While
 * a vault does not exist (creating, soft-deleted, purged) its listener drops
 * connections, the nearest thing to a name that does not resolve.
 */
export class VaultListeners {
  readonly #ca: CertificateAuthority;
  readonly #host: string;
  readonly #handler: (vaultName: string) => RequestListener;
  readonly #listeners = new Map<string, Listener>();
  readonly #pending = new Map<string, Promise<Listener>>();

  constructor(ca: CertificateAuthority, host: string, handler: (vaultName: string) => RequestListener) {
    this.#ca = ca;
    this.#host = host;
    this.#handler = handler;
  }

  /** The URI of the vault's listener (https://HOST:PORT/), starting it unreachable if needed. */
  async ensure(vaultName: string): Promise<string> {
    const key = vaultName.toLowerCase();
    const existing = this.#listeners.get(key);
    if (existing) return existing.uri;
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#start(vaultName).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return (await pending).uri;
  }

  async #start(vaultName: string): Promise<Listener> {
    const cert = await issueServerCertificate(this.#ca, `${vaultName}.vault.labops.emulator`);
    const server = createServer({ cert: cert.cert, key: cert.key }, this.#handler(vaultName));
    const listener: Listener = { server, uri: "", reachable: false, sockets: new Set() };
    server.on("connection", (socket: Socket) => {
      if (!listener.reachable) {
        socket.destroy();
        return;
      }
      listener.sockets.add(socket);
      socket.on("close", () => listener.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, this.#host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("vault listener has no TCP address");
    const host = this.#host.includes(":") ? `[${this.#host}]` : this.#host;
    listener.uri = `https://${host}:${address.port}/`;
    this.#listeners.set(vaultName.toLowerCase(), listener);
    return listener;
  }

  uri(vaultName: string): string | undefined {
    return this.#listeners.get(vaultName.toLowerCase())?.uri;
  }

  setReachable(vaultName: string, reachable: boolean): void {
    const listener = this.#listeners.get(vaultName.toLowerCase());
    if (!listener) return;
    listener.reachable = reachable;
    if (!reachable) {
      for (const socket of listener.sockets) socket.destroy();
      listener.sockets.clear();
    }
  }

  async closeAll(): Promise<void> {
    const closing = [...this.#listeners.values()].map(
      (l) =>
        new Promise<void>((resolve) => {
          l.server.close(() => resolve());
          l.server.closeAllConnections();
        }),
    );
    this.#listeners.clear();
    await Promise.all(closing);
  }
}
