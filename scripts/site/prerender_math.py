"""Sphinx extension: typeset the book's math when the site is built, not in the reader's browser.

MathJax in the browser costs every page with math about 1.2 MB of JavaScript and its fonts
before a formula shows. Here each page's formulas go through MathJax 3 in Node.js once, at
build time (``typeset_math.cjs`` beside this file, with the MathJax copied into ``vendor/``),
and the page carries the result: an SVG per formula (its glyphs as paths, so no font files)
with hidden MathML for screen readers, and the TeX in ``data-tex`` (the search page uses it
for its snippets). Pages load no MathJax at all; ``prerender-math.css`` (MathJax's stylesheet
for that output, a few KB) is on every page, since a title with math can show in the
navigation of any page.

Use: ``html_math_renderer = "prerender"``; ``prerender_math_mathjax`` is the folder of MathJax's
``es5/`` build (``node-main.js``), relative to the configuration directory. A TeX error is a
build warning (an error with ``--warningiserror``) naming the page and the formula.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "typeset_math.cjs"
STYLESHEET = "prerender-math.css"


def display_tex(node: nodes.math_block) -> str:
    """The TeX that Sphinx's MathJax renderer would hand MathJax for a display block: several
    equations (separated by blank lines) are aligned, one with ``\\\\`` is a ``split``."""
    if node["nowrap"]:
        return node.astext()
    parts = [part for part in node.astext().split("\n\n") if part.strip()]
    parts = [rf"\begin{{split}}{p}\end{{split}}" if r"\\" in p else p for p in parts]
    if len(parts) > 1:
        return r"\begin{align}\begin{aligned}" + r"\\".join(parts) + r"\end{aligned}\end{align}"
    return parts[0] if parts else ""


def typeset(mathjax: Path, items: list[tuple[str, bool]]) -> dict:
    """Run MathJax on ``items`` (TeX, display?) in one Node.js process: returns
    ``{"html": [...], "errors": [...], "css": str}`` (see typeset_math.cjs)."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("prerender_math needs Node.js (node) to typeset the math")
    payload = json.dumps([{"tex": tex, "display": display} for tex, display in items])
    done = subprocess.run(
        [node, str(SCRIPT), str(mathjax)],
        input=payload.encode(),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"MathJax in Node.js failed: {done.stderr.decode(errors='replace')}")
    return json.loads(done.stdout)


class MathCache:
    """Each formula typeset once per build: (TeX, display?) -> HTML, or None after an error."""

    def __init__(self, mathjax: Path) -> None:
        self.mathjax = mathjax
        self.html: dict[tuple[str, bool], str | None] = {}
        self.css: str | None = None

    def add(self, items: list[tuple[str, bool, nodes.Node]]) -> None:
        """Typeset those of ``items`` (TeX, display?, node for the warning) not seen yet."""
        todo: dict[tuple[str, bool], nodes.Node] = {}
        for tex, display, node in items:
            if (tex, display) not in self.html:
                todo.setdefault((tex, display), node)
        if not todo and self.css is not None:
            return
        out = typeset(self.mathjax, list(todo))
        self.css = out["css"]
        for (key, node), html, error in zip(todo.items(), out["html"], out["errors"]):
            self.html[key] = html
            if error:
                logger.warning("math %r: %s", key[0], error, location=node)

    def get(self, tex: str, display: bool, node: nodes.Node) -> str | None:
        if (tex, display) not in self.html:  # e.g. a title with math shown in a navigation
            self.add([(tex, display, node)])
        return self.html[(tex, display)]


def _cache(app: Sphinx) -> MathCache:
    cache = getattr(app, "_prerender_math", None)
    if cache is None:
        cache = MathCache(Path(app.confdir, app.config.prerender_math_mathjax))
        app._prerender_math = cache  # type: ignore[attr-defined]
    return cache


def collect(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Typeset all the formulas of a page in one go, before it is written."""
    if getattr(app.builder, "math_renderer_name", None) != "prerender":
        return
    items = [(n.astext(), False, n) for n in doctree.findall(nodes.math)]
    items += [(display_tex(n), True, n) for n in doctree.findall(nodes.math_block)]
    if items:
        _cache(app).add(items)


def _write(self, node: nodes.Element, tag: str, tex: str, display: bool) -> None:
    html = _cache(self.builder.app).get(tex, display, node)
    attributes = {"CLASS": "math notranslate nohighlight", "data-tex": tex}
    self.body.append(self.starttag(node, tag, "", **attributes))
    if display and node.get("number"):
        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    # after a TeX error (a build warning) the reader sees the TeX
    self.body.append(html if html is not None else self.encode(tex))
    self.body.append(f"</{tag}>" + ("\n" if display else ""))


def visit_math(self, node: nodes.math) -> None:
    _write(self, node, "span", node.astext(), display=False)
    raise nodes.SkipNode


def visit_displaymath(self, node: nodes.math_block) -> None:
    _write(self, node, "div", display_tex(node), display=True)
    raise nodes.SkipNode


def write_stylesheet(app: Sphinx, exception: Exception | None) -> None:
    """Write ``_static/prerender-math.css``, MathJax's stylesheet for its SVG output."""
    if exception is not None or getattr(app.builder, "math_renderer_name", None) != "prerender":
        return
    cache = _cache(app)
    if cache.css is None:
        cache.add([])
    Path(app.outdir, "_static", STYLESHEET).write_text(cache.css or "", encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.add_config_value("prerender_math_mathjax", "vendor/mathjax", "html")
    app.add_html_math_renderer("prerender", (visit_math, None), (visit_displaymath, None))
    app.add_css_file(STYLESHEET)
    app.connect("doctree-resolved", collect)
    app.connect("build-finished", write_stylesheet)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": False}
