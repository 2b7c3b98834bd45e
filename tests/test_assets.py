"""llmcourse.assets: names, checksums, sources in order, atomic writes, the command line."""

import hashlib
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from llmcourse import assets
from llmcourse.assets import ASSETS, Asset, AssetError, NpmMember, Url


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("LLMCOURSE_CACHE", str(folder))
    return folder


def make_asset(monkeypatch, name, content, sources):
    asset = Asset(name, hashlib.sha256(content).hexdigest(), len(content), tuple(sources), "test")
    monkeypatch.setitem(ASSETS, name, asset)
    return asset


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_cache_dir_follows_env(cache):
    assert assets.cache_dir() == cache
    assert assets.path("moby-dick") == cache / "moby-dick"


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("LLMCOURSE_CACHE", raising=False)
    assert assets.cache_dir() == Path.home() / ".cache" / "llmcourse"


def test_unknown_asset_names_value_and_known_ones(cache):
    with pytest.raises(ValueError, match=r"unknown asset 'mobydick'.*known assets: .*moby-dick"):
        assets.fetch("mobydick")


def test_fetch_from_url_source_and_cache(cache, tmp_path, monkeypatch):
    data = b"call me ishmael\n"
    src = write(tmp_path / "src.txt", data)
    make_asset(monkeypatch, "t", data, [Url(src.as_uri())])
    assert not assets.is_cached("t")
    got = assets.fetch("t")
    assert got == cache / "t" and got.read_bytes() == data
    assert assets.is_cached("t")
    assert stat.S_IMODE(os.stat(got).st_mode) == 0o644
    src.unlink()  # a cached asset needs no source
    assert assets.fetch("t").read_bytes() == data
    assert assets.read_text("t") == data.decode()


def test_sources_tried_in_order(cache, tmp_path, monkeypatch):
    data = b"right bytes"
    missing = tmp_path / "nowhere.txt"
    good = write(tmp_path / "good.txt", data)
    make_asset(monkeypatch, "t", data, [Url(missing.as_uri()), Url(good.as_uri())])
    assert assets.fetch("t").read_bytes() == data


def test_checksum_mismatch_retries_once_then_errors(cache, tmp_path, monkeypatch):
    bad = write(tmp_path / "bad.txt", b"corrupt")
    make_asset(monkeypatch, "t", b"expected", [Url(bad.as_uri())])
    calls = []
    real = Url.retrieve
    monkeypatch.setattr(Url, "retrieve", lambda self, w: calls.append(1) or real(self, w))
    with pytest.raises(AssetError, match=r"sha256 .*expected .*\(try 2 of 2\)"):
        assets.fetch("t")
    assert len(calls) == 2
    assert not cache.exists() or list(cache.iterdir()) == []


def test_corrupt_cached_file_is_fetched_again(cache, tmp_path, monkeypatch):
    data = b"good"
    src = write(tmp_path / "good.txt", data)
    make_asset(monkeypatch, "t", data, [Url(src.as_uri())])
    write(cache / "t", b"half a fi")
    assert not assets.is_cached("t")
    assert assets.fetch("t").read_bytes() == data


def test_no_source_reachable_names_asset_sources_and_manual_step(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no npm on PATH
    sources = [NpmMember("some-pkg@1.0.0", "package/x.txt"), Url((tmp_path / "no.txt").as_uri())]
    make_asset(monkeypatch, "t", b"x", sources)
    with pytest.raises(AssetError) as info:
        assets.fetch("t")
    msg = str(info.value)
    assert "'t'" in msg
    assert "npm some-pkg@1.0.0, member package/x.txt: npm is not installed" in msg
    assert (tmp_path / "no.txt").as_uri() in msg
    assert f"save it as {cache / 't'}" in msg
    assert not (cache / "t").exists()


def test_interrupted_write_leaves_no_file(cache, tmp_path, monkeypatch):
    data = b"0123456789" * 1000
    src = write(tmp_path / "src.bin", data)
    make_asset(monkeypatch, "t", data, [Url(src.as_uri())])

    def broken_copy(a, b):
        Path(b).write_bytes(Path(a).read_bytes()[:10])
        raise KeyboardInterrupt  # e.g. the learner stops the cell mid-write

    monkeypatch.setattr(assets.shutil, "copyfile", broken_copy)
    with pytest.raises(KeyboardInterrupt):
        assets.fetch("t")
    assert list(cache.iterdir()) == []


def npm_tarball(member: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_npm_member_through_npm_pack(cache, tmp_path, monkeypatch):
    """A fake `npm` on PATH writes a tarball, as `npm pack --pack-destination D spec` does."""
    data = b"whale\n"
    tgz = write(tmp_path / "pkg-1.0.0.tgz", npm_tarball("package/data/x.txt", data))
    bin_dir = tmp_path / "bin"
    write(bin_dir / "npm", f'#!/bin/sh\n[ "$1" = pack ] && cp {tgz} "$4/"\n'.encode())
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    make_asset(monkeypatch, "t", data, [NpmMember("pkg@1.0.0", "package/data/x.txt")])
    assert assets.fetch("t").read_bytes() == data


def test_member_extraction_from_wheel_and_sdist(tmp_path):
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("pkg/assets/ranks.txt", b"ranks")
    sdist = write(tmp_path / "s.tar.gz", npm_tarball("pkg-1.0/pkg/assets/ranks.txt", b"sd"))
    out1 = tmp_path / "o1"
    out1.mkdir()
    assert assets._extract_member(wheel, "pkg/assets/ranks.txt", out1).read_bytes() == b"ranks"
    out2 = tmp_path / "o2"
    out2.mkdir()
    assert assets._extract_member(sdist, "pkg/assets/ranks.txt", out2).read_bytes() == b"sd"
    with pytest.raises(AssetError, match="has no member pkg/other.txt"):
        assets._extract_member(sdist, "pkg/other.txt", out2)


def test_cli_list_and_fetch(cache, tmp_path, monkeypatch, capsys):
    data = b"abc"
    src = write(tmp_path / "a.txt", data)
    make_asset(monkeypatch, "t", data, [Url(src.as_uri())])
    assert assets.main(["fetch", "t"]) == 0
    assert assets.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "t " in out and "cached" in out
    assert assets.main(["fetch", "nope"]) == 1
    assert "unknown asset 'nope'" in capsys.readouterr().err


def test_setup_tiktoken_makes_gpt2_work_offline(tmp_path, monkeypatch):
    """The real assets (fetched by the set-up command) seed tiktoken's cache."""
    import tiktoken

    for name in ("gpt2-encoder.json", "gpt2-vocab.bpe", "gpt2.tiktoken"):
        assets.fetch(name)  # cached by the set-up command
    folder = tmp_path / "tk"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(folder))
    assert assets.setup_tiktoken() == folder
    assert len(list(folder.iterdir())) == 3
    # any attempt to reach the network would fail the test
    monkeypatch.setattr("urllib.request.urlopen", None)
    import requests

    def no_network(*a, **k):
        raise AssertionError("tiktoken tried the network")

    monkeypatch.setattr(requests, "get", no_network)
    tiktoken.registry.ENCODINGS.pop("gpt2", None)
    enc = tiktoken.get_encoding("gpt2")
    assert enc.encode("Hello world") == [15496, 995]
    assert enc.n_vocab == 50257


def test_fetch_all_skips_online_only_assets(cache, tmp_path, monkeypatch):
    data = b"small"
    small = Asset(
        "small",
        hashlib.sha256(data).hexdigest(),
        5,
        (Url(write(tmp_path / "s", data).as_uri()),),
        "s",
    )
    big = Asset("big", None, 5, (Url((tmp_path / "absent").as_uri()),), "weights", online_only=True)
    monkeypatch.setattr(assets, "ASSETS", {"small": small, "big": big})
    monkeypatch.setattr(assets, "_TIKTOKEN_FILES", {})
    assert assets.main(["fetch", "--all"]) == 0
    assert assets.is_cached("small") and not (cache / "big").exists()
    assert assets.main(["fetch", "big"]) == 1  # asked for by name: tried, and it fails


def _serve(tmp_path, body, etag):
    """A local https-like server (plain http) that names ``etag`` as the file's sha256."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Linked-ETag", f'"{etag}"')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/model.safetensors"


def test_an_unpinned_asset_is_checked_against_the_sha256_its_server_names(
    cache, tmp_path, monkeypatch
):
    body = b"weights" * 100
    for etag, ok in ((hashlib.sha256(body).hexdigest(), True), ("ab" * 32, False)):
        server, url = _serve(tmp_path, body, etag)
        try:
            monkeypatch.setitem(ASSETS, "w", Asset("w", None, len(body), (Url(url),), "w"))
            if ok:
                assert assets.fetch("w").read_bytes() == body
                (cache / "w").unlink()
            else:
                with pytest.raises(AssetError, match=f"expected {'ab' * 32}"):
                    assets.fetch("w")
                assert not (cache / "w").exists()
        finally:
            server.shutdown()
