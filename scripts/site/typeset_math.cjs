// Typeset TeX with MathJax 3 in Node.js, for the site build (prerender_math.py runs it).
//
//   node typeset_math.cjs MATHJAX_ES5_DIR < [{"tex": "\\sqrt{d_k}", "display": false}, ...]
//
// prints {"html": [...], "errors": [...], "css": "..."}: for each formula its SVG (paths inline,
// no font files, no ids) with hidden MathML for screen readers, or null and the TeX error; then
// the stylesheet those need. An undefined macro is an error, not red text on the page.
"use strict";
const path = require("path");

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const items = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const MathJax = await require(path.resolve(process.argv[2], "node-main.js")).init({
    loader: { load: ["input/tex", "output/svg", "a11y/assistive-mml"] },
    tex: {
      packages: { "[-]": ["noundefined"] },
      formatError: (jax, err) => {
        throw err;
      },
    },
    svg: { fontCache: "none" },
    startup: { typeset: false },
  });
  const adaptor = MathJax.startup.adaptor;
  const html = [];
  const errors = [];
  for (const { tex, display } of items) {
    try {
      html.push(adaptor.outerHTML(await MathJax.tex2svgPromise(tex, { display })));
      errors.push(null);
    } catch (err) {
      html.push(null);
      errors.push(String(err.message || err));
    }
  }
  const css = adaptor.textContent(MathJax.svgStylesheet());
  process.stdout.write(JSON.stringify({ html, errors, css }));
}

main().catch((err) => {
  process.stderr.write(`typeset_math: ${err.stack || err}\n`);
  process.exit(1);
});
