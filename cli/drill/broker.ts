/**
 * A local MQTT broker standing in for one region's IoT Core message broker: aedes over WebSocket
 * on 127.0.0.1 (the health check speaks MQTT over WebSocket, as it does to IoT Core).
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { createWebSocketStream, WebSocketServer } from 'ws';

export interface DrillBroker {
  /** `ws://127.0.0.1:<port>/mqtt` */
  readonly url: string;
  /** Takes the broker down: closes every connection and stops listening (an outage). */
  down(): Promise<void>;
}

export async function startBroker(): Promise<DrillBroker> {
  // aedes is an ES module (loaded with require(esm) in Node 22).
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker({ heartbeatInterval: 3_600_000 });
  const server: Server = createServer();
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws);
    stream.on('error', () => {});
    broker.handle(stream as never, req as never);
  });
  const port = await new Promise<number>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res((server.address() as { port: number }).port));
  });
  let closed = false;
  return {
    url: `ws://127.0.0.1:${port}/mqtt`,
    async down() {
      if (closed) return;
      closed = true;
      for (const ws of wss.clients) ws.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}
