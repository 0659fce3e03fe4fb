// Drives the Responses API with the npm openai client, unchanged: an agent run, a
// function tool the client executes, a streamed run and a retrieval. Prints one JSON
// summary line. Env: PLINTH_URL (platform base URL), PLINTH_KEY (a tenant key).
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.PLINTH_URL + '/v1', apiKey: process.env.PLINTH_KEY, maxRetries: 0 });
const text = (r) => r.output.filter((o) => o.type === 'message').flatMap((o) => o.content).map((c) => c.text).join('');
const out = {};

const r1 = await client.responses.create({ model: 'agent:helper', input: 'greet twice' });
out.agent = { status: r1.status, output_text: r1.output_text, items: r1.output.map((o) => o.type) };

const tools = [{ type: 'function', name: 'get_weather', description: 'Weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
const r2 = await client.responses.create({ model: 'scripted', input: 'weather in Paris?', tools });
const call = r2.output.find((o) => o.type === 'function_call');
const r3 = await client.responses.create({ model: 'scripted', previous_response_id: r2.id,
  input: [{ type: 'function_call_output', call_id: call.call_id, output: '18°C, sunny' }] });
out.function = { name: call.name, arguments: call.arguments, output_text: r3.output_text };

const stream = await client.responses.create({ model: 'agent:helper', input: 'greet twice', stream: true });
const types = [];
let final;
let deltas = '';
for await (const ev of stream) {
  types.push(ev.type);
  if (ev.type === 'response.output_text.delta') deltas += ev.delta;
  if (ev.type === 'response.completed') final = ev.response;
}
out.stream = { types: [...new Set(types)], deltas, final_text: final ? text(final) : null };

// responses.stream() rebuilds the response from the events and throws on any event
// that does not fit what came before (an unknown output_index, a delta of a missing part).
const runner = client.responses.stream({ model: 'agent:helper', input: 'greet twice' });
let textDeltas = 0;
runner.on('response.output_text.delta', () => { textDeltas++; });
const streamed = await runner.finalResponse();
out.accumulated = { output_text: streamed.output_text, items: streamed.output.map((o) => o.type), text_deltas: textDeltas };

const fnRunner = client.responses.stream({ model: 'scripted', input: 'weather in Paris?', tools,
  tool_choice: { type: 'function', name: 'get_weather' } });
const argDeltas = [];
fnRunner.on('response.function_call_arguments.delta', (ev) => { argDeltas.push(ev.delta); });
const fnFinal = await fnRunner.finalResponse();
const fnItem = fnFinal.output.find((o) => o.type === 'function_call');
out.function_stream = { arguments: fnItem.arguments, deltas: argDeltas, tool_choice: fnFinal.tool_choice };

const short = await client.responses.create({ model: 'scripted', input: 'a long story', max_output_tokens: 16 });
out.max_output_tokens = { status: short.status, reason: short.incomplete_details?.reason, words: short.output_text.split(' ').filter(Boolean).length };

const got = await client.responses.retrieve(r1.id);
out.retrieve = { id: got.id, output_text: got.output_text };

try {
  await client.responses.create({ model: 'agent:nobody', input: 'hi' });
  out.unknown_agent = 'no error';
} catch (e) {
  out.unknown_agent = e.status;
}
console.log(JSON.stringify(out));
