import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";

/**
 * Slack's side of Socket Mode: `apps.connections.open` hands out a one-time
 * ws:// URL; a client that connects gets `hello`, then envelopes
 * (`slash_commands`, `interactive`, `events_api`), each to be acknowledged
 * with its `envelope_id` (and, for commands and view submissions, the
 * response payload) within 3 seconds. The server pings, as Slack's does, so
 * the client's ping watchdog stays quiet.
 */
export type EnvelopeType = "slash_commands" | "interactive" | "events_api";

export interface EnvelopeAck {
  acked: boolean;
  payload?: Record<string, unknown>;
}

const ACK_TIMEOUT_MS = 3_000;
const PING_EVERY_MS = 10_000;

export class SocketModeServer {
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #tickets = new Set<string>();
  readonly #sockets = new Set<WebSocket>();
  readonly #waiting = new Map<string, (payload: Record<string, unknown> | undefined) => void>();
  readonly #ping: NodeJS.Timeout;
  /** Every envelope sent, for tests. */
  readonly sent: Array<{ envelope_id: string; type: EnvelopeType; retry_attempt: number }> = [];

  constructor() {
    this.#ping = setInterval(() => {
      for (const ws of this.#sockets) ws.ping();
    }, PING_EVERY_MS);
    this.#ping.unref();
    this.#wss.on("connection", (ws: WebSocket) => {
      this.#sockets.add(ws);
      ws.on("message", (data) => {
        try {
          const msg = JSON.parse(String(data)) as { envelope_id?: string; payload?: Record<string, unknown> };
          if (msg.envelope_id) {
            this.#waiting.get(msg.envelope_id)?.(msg.payload);
            this.#waiting.delete(msg.envelope_id);
          }
        } catch {
          // Slack ignores what it cannot parse; so do we.
        }
      });
      ws.on("close", () => this.#sockets.delete(ws));
      ws.send(
        JSON.stringify({
          type: "hello",
          num_connections: this.#sockets.size,
          debug_info: { host: "labops-emulator", approximate_connection_time: 18_060 },
          connection_info: { app_id: "A0LABOPS" },
        }),
      );
    });
  }

  /** A single-use ws:// URL, as apps.connections.open returns. */
  ticketUrl(wsBase: string): string {
    const ticket = randomBytes(16).toString("hex");
    this.#tickets.add(ticket);
    return `${wsBase}/link/?ticket=${ticket}&app_id=A0LABOPS`;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://x");
    const ticket = url.searchParams.get("ticket") ?? "";
    if (url.pathname !== "/link/" || !this.#tickets.delete(ticket)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\n\r\n");
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit("connection", ws, req));
  }

  get connections(): number {
    return this.#sockets.size;
  }

  /** Sends an envelope to one connected client and waits for its ack. */
  deliver(
    type: EnvelopeType,
    payload: Record<string, unknown>,
    options: { retryAttempt?: number; retryReason?: string } = {},
  ): Promise<EnvelopeAck> {
    const ws = [...this.#sockets].find((s) => s.readyState === s.OPEN);
    if (!ws) return Promise.resolve({ acked: false });
    const envelope_id = randomUUID();
    const retry_attempt = options.retryAttempt ?? 0;
    this.sent.push({ envelope_id, type, retry_attempt });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(envelope_id);
        resolve({ acked: false });
      }, ACK_TIMEOUT_MS);
      this.#waiting.set(envelope_id, (ack) => {
        clearTimeout(timer);
        resolve(ack === undefined ? { acked: true } : { acked: true, payload: ack });
      });
      ws.send(
        JSON.stringify({
          envelope_id,
          type,
          payload,
          accepts_response_payload: type !== "events_api",
          retry_attempt,
          retry_reason: options.retryReason ?? "",
        }),
      );
    });
  }

  /** Asks clients to reconnect, as Slack does before recycling a server. */
  refresh(): void {
    for (const ws of this.#sockets)
      ws.send(JSON.stringify({ type: "disconnect", reason: "refresh_requested" }));
  }

  async close(): Promise<void> {
    clearInterval(this.#ping);
    for (const ws of this.#sockets) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}
