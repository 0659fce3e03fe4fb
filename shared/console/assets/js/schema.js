// A small JSON Schema checker for editors: follows local $refs and checks type, enum,
// const, required, properties (unknown ones too, where a schema lists its properties),
// items, minimum/maximum and oneOf/allOf, reporting each problem with its JSON path.

export function validate(doc, schema, value) {
  const errors = [];
  check(doc, schema, value, '$', errors);
  return errors;
}

function resolve(doc, s) {
  let guard = 0;
  while (s && s.$ref && guard++ < 20) {
    s = s.$ref.replace(/^#\//, '').split('/').reduce((o, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return s || {};
}

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function check(doc, schema, v, path, errors) {
  const s = resolve(doc, schema);
  if (s.allOf) {
    for (const part of s.allOf) check(doc, { ...resolve(doc, part), additionalProperties: undefined }, v, path, errors);
    const props = Object.assign({}, ...s.allOf.map(p => resolve(doc, p).properties || {}));
    if (typeOf(v) === 'object') unknown(v, props, path, errors);
    return;
  }
  if (s.oneOf || s.anyOf) {
    const alts = s.oneOf || s.anyOf;
    if (!alts.some(a => { const e = []; check(doc, a, v, path, e); return e.length === 0; })) {
      errors.push(`${path}: does not match any allowed form`);
    }
    return;
  }
  if (s.type) {
    const t = typeOf(v);
    const want = Array.isArray(s.type) ? s.type : [s.type];
    if (!want.includes(t) && !(t === 'integer' && want.includes('number'))) {
      errors.push(`${path}: must be ${want.join(' or ')}, not ${t}`);
      return;
    }
  }
  if (s.enum && !s.enum.includes(v)) errors.push(`${path}: must be one of ${s.enum.join(', ')}`);
  if (s.const !== undefined && v !== s.const) errors.push(`${path}: must be ${JSON.stringify(s.const)}`);
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) errors.push(`${path}: must be at least ${s.minimum}`);
    if (s.maximum !== undefined && v > s.maximum) errors.push(`${path}: must be at most ${s.maximum}`);
  }
  if (typeOf(v) === 'object') {
    for (const r of s.required || []) if (!(r in v)) errors.push(`${path}: ${r} is required`);
    const props = s.properties || {};
    for (const [k, val] of Object.entries(v)) {
      if (props[k]) check(doc, props[k], val, `${path}.${k}`, errors);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') check(doc, s.additionalProperties, val, `${path}.${k}`, errors);
    }
    if (s.properties && s.additionalProperties === undefined) unknown(v, props, path, errors);
  }
  if (Array.isArray(v) && s.items) v.forEach((x, i) => check(doc, s.items, x, `${path}[${i}]`, errors));
}

function unknown(v, props, path, errors) {
  for (const k of Object.keys(v)) if (!(k in props)) errors.push(`${path}: unknown field ${k}`);
}
