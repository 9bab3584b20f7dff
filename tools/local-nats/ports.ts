/**
 * Ports for local servers: free ports on 127.0.0.1, reserved in this process so that servers started
 * together never get the same one, never a NATS default port (a system server may listen on 4222); and
 * retrying a start that lost the race for a port to another process.
 *
 * They are taken below the OS's ephemeral range (where it picks the local port of every outgoing
 * connection): a server restarted on its ports — a node killed and started again by the chaos suite —
 * found one of them held by some client's connection meanwhile ("address already in use"), which no
 * retry cures while that connection lives.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { NatsPortAllocationError, NatsServerStartError } from "./errors.js";

/** Ports never handed out: the NATS defaults (a system server may listen on 4222). */
const FORBIDDEN_PORTS: ReadonlySet<number> = new Set([4222, 6222, 7422, 8222]);
/** Ports handed out or reserved in this process and not yet released. */
const reservedPorts = new Set<number>();

function listenOnce(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => resolve(srv));
  });
}

export function closeServer(srv: net.Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

/** The first port handed out: above the usual fixed ports of local services (PostgreSQL's 5432…). */
const FIRST_PORT = 10_000;

/** The OS's ephemeral range's first port (Linux's; elsewhere IANA's 49152). */
function ephemeralStart(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FIRST_PORT ? low : FIRST_PORT;
  } catch {
    return 49_152;
  }
}
const EPHEMERAL_START = ephemeralStart();

/**
 * Listen on a free port on 127.0.0.1 (not a NATS default, not reserved here) and reserve it until
 * {@link releasePort}: a random one below the ephemeral range, else (none found, or no room below it)
 * one the OS picks. The server is unref'd: it does not keep the process alive.
 */
export async function listenOnFreePort(): Promise<{ server: net.Server; port: number }> {
  let lastError: unknown;
  const below = EPHEMERAL_START - FIRST_PORT;
  for (let attempt = 0; attempt < 100; attempt++) {
    let server: net.Server;
    try {
      server = await listenOnce(
        attempt < 50 && below > 0 ? FIRST_PORT + Math.floor(Math.random() * below) : 0,
      );
    } catch (err) {
      lastError = err;
      continue;
    }
    const address = server.address();
    if (address !== null && typeof address !== "string" && !isTaken(address.port)) {
      reservedPorts.add(address.port);
      return { server, port: address.port };
    }
    await closeServer(server);
  }
  throw new NatsPortAllocationError("could not obtain a free TCP port on 127.0.0.1 after 100 attempts", {
    cause: lastError,
  });
}

function isTaken(port: number): boolean {
  return FORBIDDEN_PORTS.has(port) || reservedPorts.has(port);
}

/**
 * Ask the OS for a free TCP port on 127.0.0.1 (listen on port 0, read it, close). The port is
 * reserved in this process until {@link releasePort} so that concurrently started nodes never get
 * the same port; 4222 (and the other NATS default ports) are never returned.
 */
export async function getFreePort(): Promise<number> {
  const { server, port } = await listenOnFreePort();
  await closeServer(server);
  return port;
}

/** Reserve a port the caller fixed, so that {@link getFreePort} does not hand it out too. */
export function reservePort(port: number): void {
  reservedPorts.add(port);
}

/** Return a port obtained from {@link getFreePort} (or {@link reservePort}) to the pool. */
export function releasePort(port: number | undefined): void {
  if (port !== undefined) reservedPorts.delete(port);
}

/** @throws {NatsPortAllocationError} when a fixed port is a NATS default port. */
export function rejectNatsDefaultPorts(ports: ReadonlyArray<number | undefined>): void {
  for (const fixed of ports) {
    if (fixed !== undefined && FORBIDDEN_PORTS.has(fixed)) {
      throw new NatsPortAllocationError(
        `port ${fixed} is reserved for a system NATS server; use another port`,
      );
    }
  }
}

/**
 * Run `attempt` up to `times` times while it fails because a port was taken (another process won
 * the race for a port the OS had reported free), pausing `pauseMs(n)` after failed attempt `n`.
 * Any other failure, and the last one, is thrown.
 */
export async function retryOnAddressInUse<T>(
  times: number,
  attempt: (n: number) => Promise<T>,
  pauseMs: (n: number) => number = () => 0,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof NatsServerStartError && err.addressInUse) || n >= times) throw err;
      const pause = pauseMs(n);
      if (pause > 0) await sleep(pause);
    }
  }
}
