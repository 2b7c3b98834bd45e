"""A small book built with the course's theme set-up (the extensions of scripts/site/ and
_templates/), opened in Chromium: its math is typeset with no MathJax in the browser and no
icon font, and its search results show that math as text, with no TeX left."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import site_check as sc

ROOT = Path(__file__).parent.parent
SITE = ROOT / "scripts" / "site"
CHROMIUM = os.environ.get("CHROMIUM", sc.CHROMIUM)
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not Path(CHROMIUM).exists(),
    reason="needs Node.js and Chromium",
)
# what TeX left in a result would look like: a delimiter or a command
RAW_TEX = re.compile(r"\$|\\[a-zA-Z]+|\\[()\[\]]")

PAGE = r"""# Scaled attention

## Why divide by $\sqrt{d_k}$

The dot product of two random vectors grows with their length: dividing the scores by
$\sqrt{d_k}$ keeps their variance near one, so that

$$
\operatorname{softmax}\left(\frac{QK^\top}{\sqrt{d_k}}\right)
$$

stays smooth.

```python
scores = q @ k.T
```
"""


def _vendor():
    spec = importlib.util.spec_from_file_location("vendor", ROOT / "scripts" / "vendor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """The small book, built: its HTML folder."""
    vendor = _vendor()
    tmp = tmp_path_factory.mktemp("book")
    static, src, out = tmp / "static", tmp / "src", tmp / "html"
    static.mkdir()
    src.mkdir()
    vendor.copy_site_files(SITE, static)
    vendor.extract(vendor.assets.fetch("mathjax.tgz"), "package/es5/", static / "mathjax")
    (src / "index.md").write_text(PAGE, encoding="utf-8")
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(SITE)!r})\n"
        "project = 'book'\n"
        "extensions = ['myst_parser', 'sphinx_book_theme', 'prerender_math', 'theme_icons',"
        " 'page_assets']\n"
        "myst_enable_extensions = ['dollarmath']\n"
        "html_theme = 'sphinx_book_theme'\n"
        "html_theme_options = {'repository_url': 'https://github.com/o/r',"
        " 'use_repository_button': True}\n"
        f"templates_path = [{str(ROOT / '_templates')!r}]\n"
        f"html_static_path = [{str(static)!r}]\n"
        "html_context = {'default_mode': 'light'}\n"
        "html_math_renderer = 'prerender'\n"
        f"prerender_math_mathjax = {str(static / 'mathjax')!r}\n",
        encoding="utf-8",
    )
    subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "-q", str(src), str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=sc.CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, url: str):
    """A new page at ``url``; returns it, the URLs it requested and its errors."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    requested, errors = [], []
    page.on("request", lambda r: requested.append(r.url))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    page.on("pageerror", lambda e: errors.append(f"error: {e}"))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"HTTP {r.status}: {r.url}"))
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and not m.text.startswith("Failed to load resource")  # a response above says which
            and errors.append(f"console: {m.text}")
        ),
    )
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)
    return page, requested, errors


@pytest.mark.slow
def test_math_and_icons_need_no_script_nor_font(book, browser):
    with sc.serve(book) as base:
        page, requested, errors = _open(browser, base + "index.html")
        # the heading's formula, the inline one and the displayed one, each an SVG
        assert page.locator("article .math mjx-container[jax=SVG] > svg").count() == 3
        assert page.locator("article div.math mjx-container[display=true]").count() == 1
        assert page.locator("article .math mjx-assistive-mml math").count() == 3  # screen readers
        assert not [u for u in requested if "mathjax" in u.lower()]
        assert not [u for u in requested if re.search(r"\.(woff2?|ttf)(\?|$)", u)]
        assert not [u for u in requested if "fontawesome.js" in u]
        # the icons are drawn: the sidebar button's shape is a mask of the right width
        icon = page.evaluate(
            "() => { const s = getComputedStyle(document.querySelector("
            "'.primary-toggle .fa-bars'), '::before');"
            " return [s.maskImage || s.webkitMaskImage, s.width]; }"
        )
        assert icon[0].startswith('url("data:image/svg+xml') and icon[1] != "auto"
        assert errors == []
        page.close()


@pytest.mark.slow
@pytest.mark.parametrize(("word", "shown"), [("variance", "variance"), ("sqrt", "√dₖ")])
def test_search_results_show_math_as_text(book, browser, word, shown):
    # "variance" is in the text next to a formula; "sqrt" only in the formulas' TeX, so the
    # snippet is cut around a formula that has it
    with sc.serve(book) as base:
        page, _, errors = _open(browser, f"{base}search.html?q={word}")
        page.wait_for_function(
            "() => document.querySelector('#search-results ul.search li p.context')",
            timeout=10_000,
        )
        page.wait_for_timeout(500)  # every result's snippet
        results = page.evaluate(
            "() => [...document.querySelectorAll('#search-results ul.search li')]"
            ".map(li => [li.querySelector('a').textContent,"
            " li.querySelector('p.context')?.textContent ?? ''])"
        )
        assert results
        assert not [r for r in results if RAW_TEX.search(" ".join(r))], results
        assert all(shown in snippet for _, snippet in results), results
        assert any("√dₖ" in snippet for _, snippet in results)
        assert errors == []
        page.close()


@pytest.mark.slow
def test_search_titles_with_math_are_text(book, browser):
    # a section is a result of its own when the query is at least half its title (Sphinx's rule)
    with sc.serve(book) as base:
        page, _, errors = _open(browser, f"{base}search.html?q=why+divide+by")
        page.wait_for_function(
            "() => document.querySelector('#search-results ul.search li p.context')",
            timeout=10_000,
        )
        titles = page.evaluate(
            "() => [...document.querySelectorAll('#search-results ul.search li > a')]"
            ".map(a => a.textContent)"
        )
        assert "Scaled attention > Why divide by √dₖ" in titles
        assert errors == []
        page.close()
