"""Copy the site's JavaScript into vendor/ so the built book works with no network.

- plotly.min.js from the installed plotly package (the same version that made the figures),
- MathJax 3 (es5/ build) from its npm tarball,
- the ipywidgets HTML manager (embed.js and its fonts) from its npm tarball,
- the course's own small files in scripts/site/ (figures.js, which draws the figures and loads
  plotly.min.js only on pages that have one; search-math.js for the search page; the favicon).
  Not the build's own helpers there, which the site does not serve: the Sphinx extensions
  (``*.py``) and the Node.js program that typesets the math at build time (``*.cjs``, run on
  the MathJax copied here).

The tarballs come through llmcourse.assets (checked and cached). vendor/ is git-ignored and
served as the site's static folder (``html_static_path`` in _config.yml).
"""

from __future__ import annotations

import shutil
import sys
import tarfile
from pathlib import Path

import plotly

from llmcourse import assets

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "vendor"


def extract(tarball: Path, prefix: str, dest: Path, skip_suffixes: tuple[str, ...] = ()) -> int:
    """Extract the members of ``tarball`` under ``prefix`` into ``dest``; return the count."""
    count = 0
    with tarfile.open(tarball) as t:
        for info in t:
            if not info.isfile() or not info.name.startswith(prefix):
                continue
            if info.name.endswith(skip_suffixes):
                continue
            out = dest / info.name[len(prefix) :]
            out.parent.mkdir(parents=True, exist_ok=True)
            src = t.extractfile(info)
            assert src is not None
            with src, open(out, "wb") as f:
                shutil.copyfileobj(src, f)
            count += 1
    return count


# scripts/site/ files that the build runs and the site does not serve
BUILD_ONLY_SUFFIXES = (".py", ".cjs")


def copy_site_files(src: Path, dest: Path) -> list[str]:
    """Copy the files of ``src`` that the site serves into ``dest`` (not ``BUILD_ONLY_SUFFIXES``
    nor folders such as ``__pycache__``); return their names."""
    names = []
    for own in sorted(src.iterdir()):
        if own.is_file() and not own.name.endswith(BUILD_ONLY_SUFFIXES):
            shutil.copyfile(own, dest / own.name)
            names.append(own.name)
    return names


def main() -> int:
    tmp = VENDOR.with_name("vendor.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    shutil.copyfile(plotly_js, tmp / "plotly.min.js")
    copy_site_files(ROOT / "scripts" / "site", tmp)
    n_mj = extract(assets.fetch("mathjax.tgz"), "package/es5/", tmp / "mathjax")
    n_wm = extract(
        assets.fetch("html-manager.tgz"),
        "package/dist/",
        tmp / "html-manager",
        skip_suffixes=(".map", "-amd.js"),
    )
    shutil.rmtree(VENDOR, ignore_errors=True)
    tmp.rename(VENDOR)
    print(
        f"vendor/: plotly.js {plotly.__version__}, MathJax ({n_mj} files), "
        f"widget manager ({n_wm} files)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
