#!/usr/bin/env node
// Drives a running Plinth gateway with the real npm "openai" client and prints one line
// of JSON describing what came back, for the end-to-end tests to check.
//
// Environment: OPENAI_BASE_URL (e.g. http://127.0.0.1:PORT/v1), OPENAI_API_KEY,
// CHAT_MODEL (default local-chat), EMBED_MODEL (default local-embed).
// Exit status: 0 when every call returned (the summary says what), 2 on bad usage.
// A call that throws is reported in the summary under its name as {"error": {...}}.
import OpenAI from "openai";

const baseURL = process.env.OPENAI_BASE_URL;
const apiKey = process.env.OPENAI_API_KEY;
if (!baseURL || !apiKey) {
  process.stderr.write("openai-client: OPENAI_BASE_URL and OPENAI_API_KEY are required\n");
  process.exit(2);
}
const chatModel = process.env.CHAT_MODEL || "local-chat";
const embedModel = process.env.EMBED_MODEL || "local-embed";

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20_000 });

function describeError(err) {
  if (err instanceof OpenAI.APIError) {
    return { status: err.status ?? null, code: err.code ?? null, type: err.type ?? null, message: err.message, requestID: err.requestID ?? null };
  }
  return { status: null, name: err?.name ?? "Error", message: String(err?.message ?? err) };
}

async function step(name, fn) {
  try {
    return await fn();
  } catch (err) {
    return { error: describeError(err) };
  }
}

const prompt =
  "Context: The Plinth gateway runs on AWS Lambda behind API Gateway. " +
  "It stores tenants in DynamoDB. Question: Where does the gateway run?";

const summary = {};

summary.models = await step("models", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push({ id: m.id, object: m.object, owned_by: m.owned_by });
  return { ids: ids.map((m) => m.id), objects: [...new Set(ids.map((m) => m.object))] };
});

summary.chat = await step("chat", async () => {
  const { data, response } = await client.chat.completions
    .create({ model: chatModel, messages: [{ role: "user", content: prompt }], max_tokens: 64 })
    .withResponse();
  return {
    id: data.id,
    object: data.object,
    model: data.model,
    content: data.choices[0]?.message?.content ?? null,
    role: data.choices[0]?.message?.role ?? null,
    finish_reason: data.choices[0]?.finish_reason ?? null,
    usage: data.usage ?? null,
    request_id: response.headers.get("x-request-id"),
  };
});

summary.stream = await step("stream", async () => {
  const stream = await client.chat.completions.create({
    model: chatModel,
    messages: [{ role: "user", content: prompt }],
    max_tokens: 64,
    stream: true,
    stream_options: { include_usage: true },
  });
  let content = "";
  let chunks = 0;
  let finish = null;
  let usage = null;
  let model = null;
  let usageChunkHadNoChoices = false;
  for await (const chunk of stream) {
    chunks++;
    model = chunk.model;
    for (const c of chunk.choices) {
      if (c.delta?.content) content += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) {
      usage = chunk.usage;
      usageChunkHadNoChoices = chunk.choices.length === 0;
    }
  }
  return { chunks, content, finish_reason: finish, usage, model, usage_chunk_without_choices: usageChunkHadNoChoices };
});

// The npm client asks for base64 by default and decodes it into numbers.
summary.embeddings = await step("embeddings", async () => {
  const res = await client.embeddings.create({ model: embedModel, input: ["alpha beta", "gamma delta"] });
  return {
    object: res.object,
    model: res.model,
    count: res.data.length,
    dims: res.data.map((d) => (Array.isArray(d.embedding) ? d.embedding.length : -1)),
    all_numbers: res.data.every((d) => Array.isArray(d.embedding) && d.embedding.every((x) => typeof x === "number" && Number.isFinite(x))),
    norms: res.data.map((d) => Math.sqrt(d.embedding.reduce((s, x) => s + x * x, 0))),
    usage: res.usage ?? null,
  };
});

summary.embeddings_dimensions = await step("embeddings_dimensions", async () => {
  const res = await client.embeddings.create({ model: embedModel, input: "alpha beta", dimensions: 64, encoding_format: "float" });
  return { dims: res.data[0].embedding.length, model: res.model };
});

summary.unknown_model = await step("unknown_model", async () => {
  await client.chat.completions.create({ model: "no-such-model-xyz", messages: [{ role: "user", content: "hi" }] });
  return { unexpected: "the call succeeded" };
});

process.stdout.write(JSON.stringify(summary) + "\n");
