// Runs the fauxqs SQS emulator (SQS's AWS JSON protocol) on a free loopback port for the
// Go tests (test/fauxqs) and prints {"port":N} once it listens. It stops with its stdin:
// the test that started it ends, and so does it.
import { buildApp } from "fauxqs";

const app = buildApp({ logger: false });
const address = await app.listen({ port: 0, host: "127.0.0.1" });
process.stdout.write(JSON.stringify({ port: Number(new URL(address).port) }) + "\n");
process.stdin.resume();
process.stdin.on("end", () => app.close().then(() => process.exit(0)));
