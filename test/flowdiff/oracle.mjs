// Runs one state machine with aws-local-stepfunctions and prints the result in the Flow
// CLI's format, so the Go differential test can compare the two implementations:
//   success: the output as one line of JSON, exit 0
//   failure: {"error":"…","cause":"…"}, exit 2
// Flags (single run): -f FILE [-t State:SCRIPT]… [-w State:MILLIS]… [-r State:MILLIS]… [--context JSON]
// Task overrides follow the Flow CLI contract: a non-zero exit fails the task with the
// errorType/errorMessage of a printed {"errorType","errorMessage"}, else States.TaskFailed.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(process.env.SFN_MODULE_DIR + '/');
const { StateMachine, ExecutionTimeoutError } = require('aws-local-stepfunctions');

function parseArgs(args) {
  const o = { tasks: {}, waits: {}, retries: {} };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[++i];
    const [state, val] = [v.slice(0, v.indexOf(':')), v.slice(v.indexOf(':') + 1)];
    switch (a) {
      case '-f': o.file = v; break;
      case '--context': o.context = JSON.parse(v); break;
      case '-w': o.waits[state] = Number(val); break;
      case '-r': o.retries[state] = val.includes(',') ? val.split(',').map(Number) : Number(val); break;
      case '-t': o.tasks[state] = scriptTask(val); break;
      default: throw new Error('unknown flag ' + a);
    }
  }
  return o;
}

function scriptTask(script) {
  return (input) => {
    const r = spawnSync(script, [JSON.stringify(input)]);
    if (r.error) throw r.error;
    const out = r.stdout.toString();
    if (r.status !== 0) {
      let e;
      try { e = JSON.parse(out); } catch { e = null; }
      const err = new Error(e && e.errorType ? e.errorMessage ?? '' : r.stderr.toString().trim());
      err.name = e && e.errorType ? e.errorType : 'States.TaskFailed';
      throw err;
    }
    return JSON.parse(out);
  };
}

async function runOne(args, input) {
  const o = parseArgs(args);
  const machine = new StateMachine(JSON.parse(readFileSync(o.file, 'utf8')), {
    validationOptions: { checkArn: false },
  });
  try {
    const { result } = machine.run(input, {
      overrides: { taskResourceLocalHandlers: o.tasks, waitTimeOverrides: o.waits, retryIntervalOverrides: o.retries },
      context: o.context,
    });
    const out = await result;
    return { code: 0, line: JSON.stringify(out === undefined ? null : out) };
  } catch (e) {
    if (e instanceof ExecutionTimeoutError) {
      return { code: 2, line: JSON.stringify({ error: 'States.Timeout', cause: 'The execution timed out' }) };
    }
    const c = e.cause ?? e;
    return { code: 2, line: JSON.stringify({ error: c.name, cause: c.message }) };
  }
}

// Batch mode (--batch): stdin holds [{"args":[…],"input":…,"tmp":"dir"}…]; stdout gets one
// {"code","line"} per case, in order. Otherwise: one run with flags from argv, input on stdin.
const stdin = readFileSync(0, 'utf8').trim();
if (process.argv[2] === '--batch') {
  const results = [];
  for (const c of JSON.parse(stdin)) {
    process.env.FLOWDIFF_TMP = c.tmp;
    try {
      results.push(await runOne(c.args, c.input));
    } catch (e) {
      results.push({ code: 1, line: String(e.message) });
    }
  }
  process.stdout.write(JSON.stringify(results) + '\n');
} else {
  const r = await runOne(process.argv.slice(2), JSON.parse(stdin || '{}'));
  process.stdout.write(r.line + '\n');
  process.exitCode = r.code;
}
