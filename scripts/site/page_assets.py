"""Sphinx extension: each page loads the extensions' files only if it has their content, and
loads its scripts without holding up the first paint.

- Sphinx extensions add their stylesheet and script to every page. A page without a dropdown or
  tab (sphinx-design), a notebook cell (myst-nb), a code block (sphinx-copybutton) or a toggle
  (sphinx-togglebutton) does not load that extension's files (``CONTENT_ASSETS``: what in the
  page's body shows that it has such content). The chapter list, the search page and the index
  have none of them.
- Sphinx and its extensions put their scripts in the page's ``<head>`` as plain ``<script src>``,
  which stops the browser from parsing (and painting) the page until each one is fetched and
  run. None of them needs to run before the page is parsed: each waits for the document to be
  ready anyway. So every script file gets ``defer`` (run in order, once the page is parsed),
  except ``documentation_options.js``: small inline scripts right after it set values on the
  object it defines, so it must have run first. Inline scripts stay as they are (they only set
  variables that the deferred files read). The search page loads Sphinx's search scripts itself
  (``_templates/search.html`` defers them too, in the same order).
"""

from __future__ import annotations

import re

from sphinx.application import Sphinx


def _classes(*names: str) -> re.Pattern:
    """An element whose class list has each of ``names``: whole classes, each name a regular
    expression for one class."""
    each = "".join(rf'(?=(?:[^"]*\s)?{n}[\s"])' for n in names)
    return re.compile(rf'class="{each}')


# (what in a page's body shows that it needs them, the files: names or name prefixes)
CONTENT_ASSETS = [
    # sphinx-design: dropdowns (exercise solutions), tabs, cards
    (_classes(r"sd-[\w-]*"), ("sphinx-design.min.css", "design-tabs.js")),
    # myst-nb: a notebook's cells and their outputs (mystnb.<digest>.css)
    (_classes("cell"), ("mystnb.",)),
    # sphinx-copybutton: the copy button of code blocks (div.highlight pre)
    (_classes("highlight"), ("clipboard.min.js", "copybutton.js", "copybutton.css")),
    # sphinx-togglebutton: its selector is ".toggle, .admonition.dropdown"
    (_classes("toggle"), ("togglebutton.js", "togglebutton.css")),
    (_classes("admonition", "dropdown"), ("togglebutton.js", "togglebutton.css")),
]
# script files that must run where they stand: inline scripts after them use what they define
BLOCKING = {"documentation_options.js"}


def _name(asset) -> str:
    return str(asset.filename or "").rsplit("/", 1)[-1]


def unused_files(body: str) -> set[str]:
    """The names (or prefixes) in ``CONTENT_ASSETS`` of the files a page with ``body`` does not
    need."""
    needed = {name for pattern, names in CONTENT_ASSETS if pattern.search(body) for name in names}
    return {name for _, names in CONTENT_ASSETS for name in names} - needed


def page_assets(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Leave out the files the page does not need; defer its scripts (the module docstring)."""
    unused = unused_files(context.get("body", ""))

    def needed(asset) -> bool:
        name = _name(asset)
        return not name or not any(name.startswith(u) for u in unused)

    if "css_files" in context:
        context["css_files"] = [css for css in context["css_files"] if needed(css)]
    scripts = []
    for js in context.get("script_files", []):
        if not needed(js):
            continue
        attrs = js.attributes
        if js.filename and _name(js) not in BLOCKING and not {"async", "defer"} & set(attrs):
            # a copy: the builder's own list of scripts is shared by all pages
            js = type(js)(js.filename, priority=js.priority, **attrs, defer="defer")
        scripts.append(js)
    context["script_files"] = scripts


def setup(app: Sphinx) -> dict:
    # late, after the extensions that add a page's own files here (MathJax, widgets)
    app.connect("html-page-context", page_assets, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
