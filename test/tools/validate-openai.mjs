#!/usr/bin/env node
// Validates response bodies against OpenAI's published schemas.
//
// Usage: node validate-openai.mjs --spec PATH/openapi.subset.json < items.json
//
// stdin is a JSON array of {"name": "...", "schema": "CreateChatCompletionResponse",
// "body": {...}}; "schema" names an entry of components.schemas. stdout is a JSON array
// of {"name", "schema", "valid", "errors": [{"instancePath", "schemaPath", "message"}]}.
// Exit status: 0 when every body is valid, 1 when one is not, 2 on bad usage.
//
// The document says "openapi: 3.1.0" (JSON Schema 2020-12) but still carries OpenAPI
// 3.0's "nullable: true" in places, which 2020-12 does not know. It is rewritten to
// its 3.1 meaning (the type, or the subschema, also admits null) before compiling, so
// a null that OpenAI itself sends is accepted and nothing else is loosened.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

function usage(msg) {
  process.stderr.write(`validate-openai: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let specPath = process.env.OPENAI_SPEC || "";
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--spec") specPath = args[++i] || "";
  else usage(`unknown argument ${args[i]}`);
}
if (!specPath) usage("--spec PATH is required");

const spec = JSON.parse(readFileSync(specPath, "utf8"));
if (!spec.components || !spec.components.schemas) usage(`${specPath} has no components.schemas`);

// toJSONSchema2020 rewrites OpenAPI 3.0 "nullable" into JSON Schema 2020-12.
function toJSONSchema2020(node) {
  if (Array.isArray(node)) return node.map(toJSONSchema2020);
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "nullable") continue;
    // Property names and examples are data, not schemas: copy them as they are.
    if (k === "properties" || k === "patternProperties" || k === "$defs") {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, toJSONSchema2020(s)]));
    } else if (k === "example" || k === "examples" || k === "default" || k === "enum" || k === "const") {
      out[k] = v;
    } else {
      out[k] = toJSONSchema2020(v);
    }
  }
  if (node.nullable !== true) return out;
  if (typeof out.type === "string") {
    out.type = [out.type, "null"];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    return out;
  }
  if (Array.isArray(out.type)) {
    if (!out.type.includes("null")) out.type = [...out.type, "null"];
    return out;
  }
  // No type of its own ($ref, oneOf, …): admit null beside the whole subschema.
  const { description, default: def, ...rest } = out;
  const wrapped = { anyOf: [rest, { type: "null" }] };
  if (description !== undefined) wrapped.description = description;
  if (def !== undefined) wrapped.default = def;
  return wrapped;
}

const documentID = "https://plinth.local/openai/openapi.json";
const doc = { $id: documentID, components: toJSONSchema2020(spec.components) };

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
// OpenAI's own format for Unix timestamps in seconds.
ajv.addFormat("unixtime", { type: "number", validate: (n) => Number.isInteger(n) && n >= 0 });
ajv.addSchema(doc);

const validators = new Map();
function validatorFor(name) {
  if (!validators.has(name)) {
    if (!spec.components.schemas[name]) return null;
    validators.set(name, ajv.compile({ $ref: `${documentID}#/components/schemas/${name}` }));
  }
  return validators.get(name);
}

let input = "";
try {
  input = readFileSync(0, "utf8");
} catch (err) {
  usage(`read stdin: ${err.message}`);
}
let items;
try {
  items = JSON.parse(input);
} catch (err) {
  usage(`stdin is not JSON: ${err.message}`);
}
if (!Array.isArray(items)) usage("stdin must be a JSON array of {name, schema, body}");

let allValid = true;
const results = items.map((item, i) => {
  const name = item.name ?? String(i);
  const validate = validatorFor(item.schema);
  if (!validate) {
    allValid = false;
    return { name, schema: item.schema, valid: false, errors: [{ instancePath: "", schemaPath: "", message: `unknown schema ${item.schema}` }] };
  }
  const valid = validate(item.body);
  if (!valid) allValid = false;
  const errors = (validate.errors || []).map((e) => ({
    instancePath: e.instancePath,
    schemaPath: e.schemaPath,
    message: `${e.message}${e.params && Object.keys(e.params).length ? " " + JSON.stringify(e.params) : ""}`,
  }));
  return { name, schema: item.schema, valid, errors: valid ? [] : errors };
});

process.stdout.write(JSON.stringify(results) + "\n");
process.exit(allValid ? 0 : 1);
