#!/usr/bin/env node
// Drives a running Plinth platform's fine-tuning API with the real npm "openai" client
// (files.create, fineTuning.jobs.create/retrieve/list/listEvents/cancel,
// fineTuning.jobs.checkpoints.list) and prints one line of JSON describing what came
// back, for the end-to-end tests to check.
//
// Environment: OPENAI_BASE_URL, OPENAI_API_KEY, TRAINING_FILE (a valid JSONL dataset),
// BAD_FILE (a dataset with an invalid second line).
// Exit status: 0 when the script ran (failed calls are listed under "errors"), 2 on bad usage.
import fs from "node:fs";
import OpenAI from "openai";

const { OPENAI_BASE_URL: baseURL, OPENAI_API_KEY: apiKey, TRAINING_FILE: trainingPath, BAD_FILE: badPath } = process.env;
if (!baseURL || !apiKey || !trainingPath || !badPath) {
  process.stderr.write("openai-finetune: OPENAI_BASE_URL, OPENAI_API_KEY, TRAINING_FILE and BAD_FILE are required\n");
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
const summary = { errors: [] };

async function until(id, done) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const job = await client.fineTuning.jobs.retrieve(id);
    if (done(job) || Date.now() > deadline) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
}

try {
  const file = await client.files.create({ file: fs.createReadStream(trainingPath), purpose: "fine-tune" });
  summary.file = { id: file.id, purpose: file.purpose, bytes: file.bytes };

  const job = await client.fineTuning.jobs.create({ model: "local-tune", training_file: file.id, hyperparameters: { n_epochs: 3 } });
  const done = await until(job.id, (j) => ["succeeded", "failed", "cancelled"].includes(j.status));
  summary.job = { id: done.id, status: done.status, fine_tuned_model: done.fine_tuned_model, error: done.error };

  const listed = [];
  for await (const j of client.fineTuning.jobs.list({ limit: 2 })) listed.push(j.id);
  summary.listed = listed.includes(job.id);

  let lossEvents = 0;
  for await (const e of client.fineTuning.jobs.listEvents(job.id, { limit: 50 })) {
    if (e.type === "metrics" && typeof e.data?.train_loss === "number") lossEvents++;
  }
  summary.loss_events = lossEvents;

  const cps = await client.fineTuning.jobs.checkpoints.list(job.id);
  summary.checkpoints = cps.data.length;

  // A second job, cancelled at once.
  const second = await client.fineTuning.jobs.create({ model: "local-tune", training_file: file.id, hyperparameters: { n_epochs: 20 } });
  const cancelled = await client.fineTuning.jobs.cancel(second.id);
  summary.cancelled = cancelled.status;

  const bad = await client.files.create({ file: fs.createReadStream(badPath), purpose: "fine-tune" });
  const badJob = await client.fineTuning.jobs.create({ model: "local-tune", training_file: bad.id });
  const failed = await until(badJob.id, (j) => j.status === "failed");
  summary.invalid_error = failed.error?.message ?? "";
} catch (err) {
  summary.errors.push(err instanceof OpenAI.APIError ? `${err.status} ${err.message}` : String(err?.stack ?? err));
}
process.stdout.write(JSON.stringify(summary) + "\n");
