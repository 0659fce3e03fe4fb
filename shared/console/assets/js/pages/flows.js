import { h, mount, field, card, table, badge, button, errorBox, toast, when, pre, kv } from '../dom.js';
import { state, can } from '../state.js';
import { header } from '../ui.js';

const short = (arn) => String(arn || '').split(':').slice(-1)[0];

export async function render(main, { params, query, go }) {
  const machines = (await state.client.get('/admin/state-machines')).data || [];
  const machine = query.get('machine') || '';
  const status = query.get('status') || '';
  const list = (await state.client.get('/admin/executions', { machine, status })).data || [];
  const selected = params[0] || '';
  const msel = h('select', { name: 'machine' }, h('option', { value: '' }, 'All'), machines.map(m => h('option', { value: m, selected: m === machine }, m)));
  const ssel = h('select', { name: 'status' }, h('option', { value: '' }, 'All'), ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'].map(s => h('option', { value: s, selected: s === status }, s)));
  const filter = () => go(`flows?machine=${encodeURIComponent(msel.value)}&status=${encodeURIComponent(ssel.value)}`);
  msel.addEventListener('change', filter);
  ssel.addEventListener('change', filter);
  const detail = h('div');
  mount(main,
    header('Flows', 'State machine executions (ingestion, evaluation, …) with their state history, as Step Functions shows them.'),
    card('Executions', h('div', { class: 'row' }, field('State machine', msel), field('Status', ssel)), table([
      { label: 'Execution', value: x => h('a', { href: `#/flows/${encodeURIComponent(x.executionArn)}` }, x.name) },
      { label: 'State machine', value: x => x.stateMachineName },
      { label: 'Status', value: x => badge(x.status) },
      { label: 'Started', value: x => when(x.startDate) },
      { label: 'Duration', num: true, value: x => x.stopDate ? `${((new Date(x.stopDate) - new Date(x.startDate)) / 1000).toFixed(2)} s` : '—' },
      { label: 'Error', value: x => x.error ? h('code', null, x.error) : '' },
    ], list.slice(0, 100), { empty: 'No executions match.', rowAttrs: x => ({ class: x.executionArn === selected ? 'selected' : null }) })),
    detail,
    can('POST /admin/state-machines/{name}/executions') ? startCard(machines, go) : null);
  if (selected) await renderExecution(detail, selected, go);
}

async function renderExecution(el, arn, go) {
  const path = `/admin/executions/${encodeURIComponent(arn)}`;
  const [x, hist] = await Promise.all([state.client.get(path), state.client.get(`${path}/history`)]);
  const events = hist.events || [];
  const states = events.filter(e => /StateEntered$/.test(e.type)).map(e => {
    const exit = events.find(f => f.id > e.id && /StateExited$/.test(f.type) && f.name === e.name);
    return { name: e.name, entered: e.timestamp, exited: exit?.timestamp, type: e.type.replace('StateEntered', '') };
  });
  mount(el, card(`Execution ${x.name}`,
    kv([['State machine', x.stateMachineName], ['Status', badge(x.status)], ['Started', when(x.startDate)], ['Stopped', when(x.stopDate)],
      ['Error', x.error ? `${x.error}: ${x.cause || ''}` : '—']]),
    x.status === 'RUNNING' && can('POST /admin/executions/{id}/stop') ? h('div', { class: 'toolbar' }, button('Stop execution', async () => {
      await state.client.post(`${path}/stop`, { error: 'Console.Stopped', cause: 'stopped from the console' });
      toast('Execution stopped');
      go(`flows/${encodeURIComponent(arn)}`);
    }, { kind: 'danger' })) : null,
    h('h3', null, 'State history'),
    table([
      { label: 'State', value: s => s.name },
      { label: 'Kind', value: s => s.type },
      { label: 'Entered', value: s => when(s.entered) },
      { label: 'Took', num: true, value: s => s.exited ? `${(new Date(s.exited) - new Date(s.entered))} ms` : 'running' },
    ], states, { empty: 'No state entered yet.' }),
    h('details', null, h('summary', null, `All ${events.length} history events`), table([
      { label: '#', num: true, value: e => e.id }, { label: 'Type', value: e => e.type }, { label: 'State', value: e => e.name || '' },
      { label: 'Time', value: e => when(e.timestamp) }, { label: 'Error', value: e => e.error || '' },
    ], events)),
    h('div', { class: 'grid two' }, h('div', null, h('h3', null, 'Input'), pre(x.input ?? {})), h('div', null, h('h3', null, 'Output'), pre(x.output ?? {})))));
}

function startCard(machines, go) {
  const msel = h('select', { name: 'start_machine' }, machines.map(m => h('option', { value: m }, m)));
  const input = h('textarea', { name: 'input', rows: 4 });
  input.value = '{}';
  const err = h('div');
  return card('Start an execution', h('form', { onsubmit: async (e) => {
    e.preventDefault();
    mount(err);
    try {
      const x = await state.client.post(`/admin/state-machines/${encodeURIComponent(msel.value)}/executions`, { input: JSON.parse(input.value) });
      toast(`Started ${short(x.executionArn)}`);
      go(`flows/${encodeURIComponent(x.executionArn)}`);
    } catch (ex) { mount(err, errorBox(ex)); }
  } }, h('div', { class: 'row' }, field('State machine', msel)), field('Input (JSON)', input), err, h('button', { type: 'submit', class: 'btn secondary' }, 'Start')));
}
