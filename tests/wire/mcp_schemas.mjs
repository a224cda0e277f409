// Prints the official MCP JSON Schemas of every protocol revision the pinned conformance
// suite (.ci/package.json) knows, as {"<revision>": <schema>, ...}. The suite bundles them
// to check that every message a server sends is valid ("wire-schema-valid"); they are read
// from its bundle so the tests use exactly the schemas the suite uses.
//
//   node tests/wire/mcp_schemas.mjs .ci/node_modules/@modelcontextprotocol/conformance/dist/index.js
import { readFileSync } from 'node:fs';

const [bundle] = process.argv.slice(2);
const source = readFileSync(bundle, 'utf8');

// The bundle maps revisions to schema objects: `{"2025-11-25": A, [LATEST]: B}`.
const table = source.match(/"2025-11-25":([A-Za-z_$][\w$]*),\[([A-Za-z_$][\w$]*)\]:([A-Za-z_$][\w$]*)/);
if (!table) throw new Error('no schema table in the bundle: has the conformance suite changed its layout?');
const [, older, latestName, newer] = table;
const latest = source.match(new RegExp(`[,;\\s]${latestName.replace('$', '\\$')}=\`([0-9-]+)\``));
if (!latest) throw new Error(`cannot read the latest revision (${latestName})`);

// The object literal assigned to `name`, found by matching braces outside strings; it holds
// only literals, so it is evaluated as such.
function literal(name) {
  const start = source.indexOf(`${name}={$schema:`) + name.length + 1;
  if (start === name.length) throw new Error(`schema ${name} not found`);
  let depth = 0;
  let quote = null;
  let i = start;
  for (; i < source.length; i++) {
    const c = source[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) break;
  }
  return new Function(`return (${source.slice(start, i + 1)})`)();
}

process.stdout.write(JSON.stringify({ '2025-11-25': literal(older), [latest[1]]: literal(newer) }));
