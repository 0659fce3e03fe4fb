#!/usr/bin/env node
// Signs HTTP requests with the AWS SDK for JavaScript's own signer (@smithy/signature-v4)
// and sends them with fetch, for the Go tests of Plinth's SigV4 verifier.
//
// stdin: a JSON array of cases {name, method, url, headers, body, accessKeyId,
// secretAccessKey, sessionToken, region, service, signedAgoSeconds, unsignedPayload,
// tamperBody}. stdout: a JSON array of {name, status, body} in the same order.
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const cases = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const results = [];
for (const c of cases) {
  const u = new URL(c.url);
  const query = {};
  for (const [k, v] of u.searchParams) {
    if (k in query) query[k] = [].concat(query[k], v);
    else query[k] = v;
  }
  const headers = { host: u.host, ...(c.headers || {}) };
  if (c.unsignedPayload) headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
  const request = {
    method: c.method,
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    query,
    headers,
    body: c.body ?? undefined,
  };
  const signer = new SignatureV4({
    service: c.service,
    region: c.region,
    sha256: Sha256,
    credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken || undefined },
  });
  const signed = await signer.sign(request, { signingDate: new Date(Date.now() - (c.signedAgoSeconds || 0) * 1000) });
  const sendHeaders = { ...signed.headers };
  delete sendHeaders.host;
  let body = c.body ?? undefined;
  if (c.tamperBody !== undefined) body = c.tamperBody;
  try {
    const res = await fetch(c.url, { method: c.method, headers: sendHeaders, body });
    results.push({ name: c.name, status: res.status, body: await res.text() });
  } catch (err) {
    results.push({ name: c.name, status: 0, body: String(err?.message ?? err) });
  }
}
process.stdout.write(JSON.stringify(results) + "\n");
