// Checks the packaging files before they are built: server.json against the MCP Registry's
// published schema (registry/server.schema.json), and one version everywhere (Cargo.toml,
// the npm packages, the MCP Bundle manifest, server.json). Run by build.sh.
//   node packaging/check.mjs VERSION
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// The validator comes with the CI tools (.ci/package.json).
const require = createRequire(new URL("../.ci/package.json", import.meta.url));
const Ajv = require("ajv");
const addFormats = require("ajv-formats");

const here = new URL(".", import.meta.url);
const read = (path) => JSON.parse(readFileSync(new URL(path, here), "utf8"));
const version = process.argv[2];
const problems = [];

const schema = read("registry/server.schema.json");
const server = read("registry/server.json");
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);
if (!validate(server)) {
  for (const e of validate.errors) problems.push(`server.json${e.instancePath}: ${e.message}`);
}

const npm = read("npm/pluggedin-mcp/package.json");
const manifest = read("mcpb/manifest.json");
const versions = {
  "server.json": server.version,
  "server.json npm package": server.packages?.[0]?.version,
  "npm package": npm.version,
  "MCP Bundle manifest": manifest.version,
};
for (const [name, v] of Object.entries(npm.optionalDependencies)) versions[`npm ${name}`] = v;
for (const [what, v] of Object.entries(versions)) {
  if (v !== version) problems.push(`${what} is version ${v}, Cargo.toml ${version}`);
}

if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`server.json valid against the registry schema; version ${version} everywhere`);
