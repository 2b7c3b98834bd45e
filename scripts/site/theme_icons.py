"""Sphinx extension: the theme's icons drawn as small SVG images, not from Font Awesome's fonts.

The theme's buttons (sidebar and contents toggles, search, light/dark switch, download, launch,
repository, previous/next) are Font Awesome icons: ``<i class="fa-solid fa-bars">``, which the
theme's stylesheet draws as a glyph of a web font. Those fonts cost 274 KB (156 KB for the solid
icons, 118 KB for the brand font, for the one GitHub mark). Once the site is built, this
extension collects the icons that its pages use and writes ``_static/theme-icons.css``: each as
an SVG mask (its shape, in the text's colour, sized like Font Awesome's own SVG icons), made from
the icon's path in the theme's copy of Font Awesome (``scripts/fontawesome.js``), and with the
text's font, so that the browser has no reason to fetch Font Awesome's.

Icons the stylesheet draws by itself (an admonition's title mark, for one) still use the font: a
page with one loads it, as before. So does an icon this file finds no path for (a warning).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pydata_sphinx_theme
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

STYLESHEET = "theme-icons.css"
FONTAWESOME_JS = (
    Path(pydata_sphinx_theme.__file__).parent
    / "theme/pydata_sphinx_theme/static/scripts/fontawesome.js"
)
# Font Awesome's style classes (long and short) and the prefix of their icon sets
STYLES = {"fa-solid": "fas", "fas": "fas", "fa-regular": "far", "far": "far"}
STYLES |= {"fa-brands": "fab", "fab": "fab"}
CLASSES = {"fas": ("fa-solid", "fas"), "far": ("fa-regular", "far"), "fab": ("fa-brands", "fab")}

# an icon in fontawesome.js: name: [width, height, [aliases], "unicode", path or [paths]]
_ICON = re.compile(
    r'(?:"([a-z0-9-]+)"|([a-z][a-z0-9]*)):\[(\d+),(\d+),\[([^\]]*)\],"[0-9a-f]+",'
    r'("(?:[^"\\]|\\.)*"|\[[^\]]*\])\]'
)
# the call that registers the icon set defined just before it: d("fas", p)
_SET = re.compile(r'\b[A-Za-z_$][\w$]*\("(fa[a-z]+)",[A-Za-z_$][\w$]*\)')
# the class list of an element that carries Font Awesome classes
_CLASS_ATTR = re.compile(r'class="([^"]*\bfa-[^"]*)"')
# Font Awesome's classes that change an icon's size, spacing or motion: no icons themselves
_MODIFIER = re.compile(
    r"fa-(\d*x[s-]?|[sl]g|fw|inverse|border|pull-.*|rotate-.*|flip.*|stack.*"
    r"|spin.*|pulse|beat.*|fade|bounce|shake)$"
)


# The theme's stylesheets have a few rules for `<i>` icons that never applied while Font
# Awesome's script replaced each `<i>` by an `<svg>` (which lost the style class, fa-solid):
# undone, so that the icons sit and measure as they did.
AS_BEFORE = """\
.bd-search .fa-solid.fa-magnifying-glass {
  position: static;
}
.prev-next-area i[class*="fa-"] {
  font-size: inherit;
}
.sidebar-secondary-item i[class*="fa-"] {
  padding-right: 0;
}
.search-button i.fa-lg {
  font-size: 1.25em;
}
"""


def parse_icons(js: str) -> dict[str, dict[str, tuple[int, int, str]]]:
    """The icons of Font Awesome's JavaScript: {prefix: {name or alias: (width, height, path)}}."""
    sets = [(m.start(), m.group(1)) for m in _SET.finditer(js)]
    icons: dict[str, dict[str, tuple[int, int, str]]] = {}
    for m in _ICON.finditer(js):
        prefix = next((p for at, p in sets if at > m.start()), None)
        if prefix is None:
            continue
        paths = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(6))
        icon = (int(m.group(3)), int(m.group(4)), " ".join(p for p in paths if p))
        names = [m.group(1) or m.group(2)] + re.findall(r'"([a-z0-9-]+)"', m.group(5))
        for name in names:
            icons.setdefault(prefix, {}).setdefault(name, icon)
    return icons


def used_icons(html: str) -> set[tuple[str, str]]:
    """The (prefix, class) of each Font Awesome icon in ``html``, e.g. ("fas", "fa-bars")."""
    found = set()
    for classes in _CLASS_ATTR.findall(html):
        names = classes.split()
        prefix = next((STYLES[n] for n in names if n in STYLES), None)
        if prefix is not None:
            found |= {(prefix, n) for n in names if n.startswith("fa-") and n not in STYLES}
    return found


def icon_css(used: set[tuple[str, str]], icons: dict) -> tuple[str, list[str]]:
    """The stylesheet that draws the ``used`` icons as SVG masks, and the icons it has no path
    for (Font Awesome's modifiers, such as fa-lg, are no icons and are left out silently)."""
    rules, selectors, missing = [], [], []
    for prefix, cls in sorted(used):
        icon = icons.get(prefix, {}).get(cls[3:])
        if icon is None:
            if not _MODIFIER.match(cls):
                missing.append(f"{prefix} {cls}")
            continue
        width, height, path = icon
        svg = f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}'>"
        svg += f"<path d='{path}'/></svg>"
        these = [f".{style}.{cls}" for style in CLASSES[prefix]]  # .fa-solid.fa-bars, .fas...
        selectors += these
        rules.append(
            f"{', '.join(these)} {{\n"
            f'  --theme-icon: url("data:image/svg+xml,{quote(svg, safe=" =/:,.-")}");\n'
            f"  --theme-icon-width: {width / height:.4g}em;\n}}\n"
        )
    if not selectors:
        return "", missing

    def rule(prefix: str, suffix: str, body: str) -> str:
        return ",\n".join(f"{prefix}{s}{suffix}" for s in selectors) + f" {{\n{body}}}\n"

    css = "/* Font Awesome Free icons (CC BY 4.0) as SVG masks: scripts/site/theme_icons.py */\n"
    # the text's font, not Font Awesome's: the browser fetches a font an element uses
    css += rule("", "", "  font-family: inherit;\n")
    css += rule(
        "",
        "::before",
        "  content: '';\n  display: inline-block;\n  width: var(--theme-icon-width);\n"
        "  height: 1em;\n  vertical-align: -0.125em;\n  background-color: currentColor;\n"
        "  -webkit-mask: var(--theme-icon) center / contain no-repeat;\n"
        "  mask: var(--theme-icon) center / contain no-repeat;\n",
    )
    # the book theme gives the icons of the article's header buttons a width (its rule
    # `.bd-header-article .btn svg`, for Font Awesome's own SVG icons): the same for these
    css += rule(".bd-header-article .btn ", "::before", "  width: 1.3rem;\n")
    return css + AS_BEFORE + "".join(rules), missing


def write_stylesheet(app: Sphinx, exception: Exception | None) -> None:
    """Write ``_static/theme-icons.css`` for the icons of every page of the build."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    used: set[tuple[str, str]] = set()
    for page in outdir.rglob("*.html"):
        if "_static" not in page.relative_to(outdir).parts:
            used |= used_icons(page.read_text(encoding="utf-8", errors="replace"))
    css, missing = icon_css(used, parse_icons(FONTAWESOME_JS.read_text(encoding="utf-8")))
    for icon in missing:
        logger.warning("theme_icons: no SVG for the icon %s, it is drawn from the web font", icon)
    (outdir / "_static" / STYLESHEET).write_text(css, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.add_css_file(STYLESHEET)
    app.connect("build-finished", write_stylesheet)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
