"""What keeps the site's pages light: the Sphinx extensions in scripts/site/ (math typeset at
build time, the theme's icons as SVG, each page's files), vendor.py's copy of the site's own
files, and search-math.js's TeX-to-text (run in Node.js)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from docutils import nodes

ROOT = Path(__file__).parent.parent
SITE = ROOT / "scripts" / "site"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="needs Node.js")


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prerender_math = _load(SITE / "prerender_math.py")
page_assets = _load(SITE / "page_assets.py")
theme_icons = _load(SITE / "theme_icons.py")


@pytest.fixture(scope="session")
def mathjax(tmp_path_factory) -> Path:
    """MathJax's es5/ build, from the cached npm tarball, as vendor.py extracts it."""
    vendor = _load(ROOT / "scripts" / "vendor.py")
    dest = tmp_path_factory.mktemp("mathjax")
    assert vendor.extract(vendor.assets.fetch("mathjax.tgz"), "package/es5/", dest) > 50
    return dest


# vendor.py ----------------------------------------------------------------------------------


def test_vendor_copies_the_site_files_not_the_build_helpers(tmp_path):
    vendor = _load(ROOT / "scripts" / "vendor.py")
    src, dest = tmp_path / "site", tmp_path / "vendor"
    (src / "__pycache__").mkdir(parents=True)
    dest.mkdir()
    for name in ("figures.js", "search-math.js", "favicon.svg", "ext.py", "typeset.cjs"):
        (src / name).write_text(name)
    assert vendor.copy_site_files(src, dest) == ["favicon.svg", "figures.js", "search-math.js"]
    assert sorted(p.name for p in dest.iterdir()) == ["favicon.svg", "figures.js", "search-math.js"]
    assert (dest / "figures.js").read_text() == "figures.js"


def test_vendor_leaves_out_the_course_extensions():
    vendor = _load(ROOT / "scripts" / "vendor.py")
    helpers = [p.name for p in SITE.iterdir() if p.name.endswith(vendor.BUILD_ONLY_SUFFIXES)]
    assert {"prerender_math.py", "page_assets.py", "theme_icons.py", "typeset_math.cjs"} <= set(
        helpers
    )


# prerender_math ---------------------------------------------------------------------------


def _block(tex: str, nowrap: bool = False) -> nodes.math_block:
    return nodes.math_block(tex, tex, nowrap=nowrap)


def test_display_tex_is_what_sphinx_gives_mathjax():
    assert prerender_math.display_tex(_block(r"a = b")) == "a = b"
    # one equation on several lines is a split; several equations are aligned
    assert prerender_math.display_tex(_block(r"a &= b \\ c &= d")) == (
        r"\begin{split}a &= b \\ c &= d\end{split}"
    )
    assert prerender_math.display_tex(_block("a = b\n\nc = d")) == (
        r"\begin{align}\begin{aligned}a = b\\c = d\end{aligned}\end{align}"
    )
    # amsmath environments are given as they are
    env = r"\begin{align} a &= b \end{align}"
    assert prerender_math.display_tex(_block(env, nowrap=True)) == env


@needs_node
def test_typeset_gives_svg_with_mathml_and_names_the_errors(mathjax):
    out = prerender_math.typeset(
        mathjax, [(r"\sqrt{d_k}", False), (r"\frac{a}{b}", True), (r"\nosuchmacro{x}", False)]
    )
    inline, display, bad = out["html"]
    assert inline.startswith('<mjx-container class="MathJax" jax="SVG"')
    assert "<svg" in inline and "<path" in inline and " id=" not in inline  # no font cache ids
    assert "<msqrt><msub><mi>d</mi><mi>k</mi></msub></msqrt>" in inline  # for screen readers
    assert 'display="true"' in display and 'display="true"' not in inline
    assert bad is None and out["errors"][:2] == [None, None]
    assert "nosuchmacro" in out["errors"][2]
    assert "mjx-assistive-mml" in out["css"] and 'mjx-container[jax="SVG"]' in out["css"]


@needs_node
def test_the_cache_typesets_each_formula_once(mathjax, monkeypatch):
    cache = prerender_math.MathCache(mathjax)
    calls = []
    real = prerender_math.typeset

    def counting(mj, items):
        calls.append(items)
        return real(mj, items)

    monkeypatch.setattr(prerender_math, "typeset", counting)
    node = nodes.math("x", "x")
    cache.add([("x", False, node), ("x", False, node), ("y", True, node)])
    assert calls == [[("x", False), ("y", True)]]
    assert cache.get("x", False, node) == cache.html[("x", False)]
    assert len(calls) == 1
    assert cache.get("z", False, node).startswith("<mjx-container")  # a miss is typeset then
    assert calls[1] == [("z", False)]


# theme_icons ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fa_icons() -> dict:
    return theme_icons.parse_icons(theme_icons.FONTAWESOME_JS.read_text(encoding="utf-8"))


def test_parse_icons_reads_font_awesome_of_the_theme(fa_icons):
    assert len(fa_icons["fas"]) > 1000 and len(fa_icons["fab"]) > 400
    width, height, path = fa_icons["fas"]["bars"]
    assert (width, height) == (448, 512) and path.startswith("M")
    assert fa_icons["fab"]["github"][0] == 496
    assert fa_icons["fas"]["search"] == fa_icons["fas"]["magnifying-glass"]  # an alias
    # the same name in two sets is two icons
    assert fa_icons["far"]["sun"] != fa_icons["fas"]["sun"]


def test_used_icons_finds_the_style_and_the_icon():
    html = (
        '<i class="fa-solid fa-bars"></i><i class="fab fa-github"></i>'
        '<i class="theme-switch fa-solid fa-sun fa-lg"></i><span class="fa-x">no style</span>'
    )
    assert theme_icons.used_icons(html) == {
        ("fas", "fa-bars"),
        ("fab", "fa-github"),
        ("fas", "fa-sun"),
        ("fas", "fa-lg"),
    }


def test_icon_css_draws_each_icon_and_names_the_unknown(fa_icons):
    used = {("fas", "fa-bars"), ("fab", "fa-github"), ("fas", "fa-lg"), ("fas", "fa-nosuchicon")}
    css, missing = theme_icons.icon_css(used, fa_icons)
    assert missing == ["fas fa-nosuchicon"]  # fa-lg is a modifier, not a missing icon
    rule = re.search(r"\.fa-solid\.fa-bars, \.fas\.fa-bars \{([^}]*)\}", css).group(1)
    assert "--theme-icon-width: 0.875em" in rule  # 448 / 512
    assert "viewBox=%270 0 448 512%27" in rule and "data:image/svg+xml" in rule
    assert ".fa-brands.fa-github::before" in css and ".fab.fa-github::before" in css
    assert "font-family: inherit" in css  # what keeps the browser from fetching the font
    assert theme_icons.icon_css(set(), fa_icons) == ("", [])


# page_assets ------------------------------------------------------------------------------


class _Asset:
    """Sphinx's script or stylesheet entry: a file name (or none, inline) and attributes."""

    def __init__(self, filename, /, *, priority=500, **attributes):
        self.filename, self.priority, self.attributes = filename, priority, attributes


def test_unused_files_follow_the_content():
    everything = page_assets.unused_files("")
    assert {"sphinx-design.min.css", "mystnb.", "copybutton.js", "togglebutton.js"} <= everything
    body = '<details class="sd-dropdown"><div class="cell docutils"><div class="highlight">'
    assert page_assets.unused_files(body) == {"togglebutton.js", "togglebutton.css"}
    assert "togglebutton.js" not in page_assets.unused_files('<div class="toggle">')
    assert "togglebutton.js" not in page_assets.unused_files('<div class="admonition dropdown">')
    # whole classes: a sphinx-design dropdown is no toggle, a cell's output no cell
    assert "togglebutton.js" in page_assets.unused_files('<div class="admonition">')
    assert "mystnb." in page_assets.unused_files('<div class="cell_output">')


def test_page_assets_drops_unused_files_and_defers_scripts():
    scripts = [
        _Asset("documentation_options.js"),
        _Asset("doctools.js"),
        _Asset("", body="let x = 1;"),
        _Asset("copybutton.js"),
        _Asset("figures.js", defer="defer"),
        _Asset("html-manager/embed.js", priority=300, crossorigin="anonymous"),
        _Asset("other.js", **{"async": "async"}),
    ]
    css = [_Asset("styles/theme.css"), _Asset("mystnb.abc123.css"), _Asset("copybutton.css")]
    context = {"body": "<p>text only</p>", "script_files": list(scripts), "css_files": css}
    page_assets.page_assets(None, "page", "page.html", context, None)
    got = {str(js.filename): js.attributes for js in context["script_files"]}
    assert list(got) == [
        "documentation_options.js",
        "doctools.js",
        "",
        "figures.js",
        "html-manager/embed.js",
        "other.js",
    ]
    assert got["documentation_options.js"] == {}  # inline scripts after it need it
    assert got["doctools.js"] == {"defer": "defer"}
    assert got[""] == {"body": "let x = 1;"}
    assert got["html-manager/embed.js"] == {"crossorigin": "anonymous", "defer": "defer"}
    assert got["other.js"] == {"async": "async"}
    assert context["script_files"][4].priority == 300
    assert [c.filename for c in context["css_files"]] == ["styles/theme.css"]
    assert scripts[1].attributes == {}  # the builder's own entries are left as they were


# search-math.js ---------------------------------------------------------------------------


@pytest.mark.slow
@needs_node
def test_tex_to_text_leaves_no_tex():
    cases = {
        r"\sqrt{d_k}": "√dₖ",
        r"Why divide by \sqrt{d_k}": "Why divide by √dₖ",
        r"\frac{QK^\top}{\sqrt{d_k}}": "QKᵀ/√dₖ",
        r"W_{\text{out}} \in \mathbb{R}^{d \times V}": "Wₒᵤₜ ∈ ℝ^(d × V)",
        r"\left( \frac{1}{2} \right)^{n+1}": "( 1/2 )ⁿ⁺¹",
        r"10^{-5}": "10⁻⁵",
        r"\hat{y} = \operatorname{softmax}(z)": "ŷ = softmax(z)",
        r"\(a\) and \[b\]": "a and b",
        "plain words": "plain words",
    }
    script = (
        "global.window = {};"
        f"require({json.dumps(str(SITE / 'search-math.js'))});"
        "const cases = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify(cases.map(window.courseTexToText)));"
    )
    done = subprocess.run(
        [NODE, "-e", script, json.dumps(list(cases))], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == list(cases.values())
