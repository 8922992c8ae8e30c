"""``affectgpt data fetch`` against a real HTTP server on loopback serving the upstream layout.

The server's files are copies of ../shared/data's originals (made in a temporary folder at test
time), at ``<owner>/<repo>/<commit>/<path>`` as raw.githubusercontent.com serves them.
"""

from __future__ import annotations

import json
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from affectgpt.cli import main
from affectgpt.errors import FetchError
from affectgpt.fetch import UPSTREAM_DIR, fetch_assets, registry


def _original(data_dir: Path, item) -> Path:
    """The data directory's copy of one upstream file (the .xlsx sheets sit in ``xlsx/``)."""
    if item.convert == "xlsx":
        return data_dir / "emotion_wheel/2025/xlsx" / (Path(item.path).name)
    return data_dir / item.target


@pytest.fixture(scope="module")
def site(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("raw-site")
    for item in registry():
        dest = root / item.key
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_original(data_dir, item), dest)
    return root


class _Handler(SimpleHTTPRequestHandler):
    """Serves the site; records every request; corrupts or cuts the paths it is told to."""

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802 (http.server's naming)
        srv = self.server
        srv.requests.append(self.path)
        key = self.path.lstrip("/")
        if key in srv.corrupt or key in srv.drop:
            data = (Path(self.directory) / key).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if key in srv.corrupt:
                self.wfile.write(data[:-1] + bytes([data[-1] ^ 0xFF]))
            else:  # the connection drops half-way through the file
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
            return
        super().do_GET()


@pytest.fixture()
def server(site, monkeypatch, tmp_path):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("AFFECTGPT_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(site)))
    httpd.requests, httpd.corrupt, httpd.drop = [], set(), set()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.is_file() and (p.name.startswith("tmp") or p.suffix == ".tmp")]


def test_full_fetch_scores_like_the_data_dir_and_refetch_downloads_nothing(server, tmp_path, monkeypatch,
                                                                          data_dir, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv("AFFECTGPT_ASSET_DIR", str(cache))
    assert main(["data", "fetch", "all", "--base-url", server.url, "-q"]) == 0
    n_files = len(registry())
    assert len(server.requests) == n_files
    # converted tables are byte for byte the data directory's (xlsx -> CSV, label npz -> gt_csv)
    for rel in ["emotion_wheel/2025/wheel1.csv", "emotion_wheel/2025/wheel5.csv", "emotion_wheel/2025/synonym.csv",
                "merunibench/gt_csv/mer2023.csv", "merunibench/gt_csv/iemocapfour.csv",
                "merunibench/gt_csv/cmumosei.csv", "merunibench/gt_csv/simsv2.csv"]:
        assert (cache / rel).read_bytes() == (data_dir / rel).read_bytes(), rel
    manifest = json.loads((cache / "fetch-manifest.json").read_text())
    assert manifest["pins"]["zeroQiaoba/AffectGPT"].startswith("d961cab")
    assert manifest["files"]["emotion_wheel/2025/wheel1.csv"]["url_path"].endswith("AffectGPT/emotion_wheel/wheel1.xlsx")

    # no --data-dir, no --labels: fetched ground truth and tables give the data directory's score
    args = ["bench", "score", "--dataset", "mer2023", "--select", "best", "--trust-pickle", "--bootstrap", "0"]
    fetched_preds = cache / "released_outputs/affectgpt/results-mer2023"
    assert main([*args, "--predictions", str(fetched_preds), "--json", str(tmp_path / "a.json")]) == 0
    assert main([*args, "--predictions", str(data_dir / "released_outputs/affectgpt/results-mer2023"),
                 "--labels", str(data_dir / "merunibench/gt_csv/mer2023.csv"), "--data-dir", str(data_dir),
                 "--json", str(tmp_path / "b.json")]) == 0
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert a["score"] == b["score"] == pytest.approx(78.54, abs=0.005)
    assert a["inputs"]["labels"]["sha256"] == b["inputs"]["labels"]["sha256"]
    assert a["inputs"]["tables"] == b["inputs"]["tables"] and a["inputs"]["predictions"] == b["inputs"]["predictions"]

    # the released preset without a data directory reproduces the data-directory run
    assert main(["bench", "run", "released", "--out", str(tmp_path / "r1"), "-q", "--no-plots"]) == 0
    assert main(["bench", "run", "released", "--out", str(tmp_path / "r2"), "--data-dir", str(data_dir),
                 "-q", "--no-plots"]) == 0
    t1, t2 = (json.loads((tmp_path / r / "results.json").read_text())["table"] for r in ("r1", "r2"))
    assert t1 == t2 and t1["AffectGPT (released)"]["scores"]["mer2023"] == pytest.approx(78.54, abs=0.005)

    # data check says where each asset was found
    capsys.readouterr()
    main(["data", "check"])
    out = capsys.readouterr().out
    assert "wheel1             cache" in out and "gt-sims            cache" in out

    # a second fetch verifies the cache and downloads nothing
    before = len(server.requests)
    res = fetch_assets(["all"], base_url=server.url, root=cache, progress=False)
    assert len(server.requests) == before and res.downloaded == [] and len(res.present) == n_files
    assert res.written == []


def test_corrupted_file_is_a_checksum_error_and_nothing_is_cached(server, tmp_path):
    cache = tmp_path / "cache"
    bad = next(f for f in registry() if f.path.endswith("wheel1.xlsx"))
    server.corrupt.add(bad.key)
    with pytest.raises(FetchError, match=r"wheel1\.xlsx: SHA-256 does not match") as exc:
        fetch_assets(["wheels"], base_url=server.url, root=cache, retries=0, progress=False)
    assert "nothing was cached" in str(exc.value)
    assert not (cache / UPSTREAM_DIR / bad.key).exists() and not (cache / bad.target).exists()
    assert _no_temp_files(cache)


def test_dropped_connection_is_retried_then_a_clear_error(server, tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv("AFFECTGPT_ASSET_DIR", str(cache))
    cut = next(f for f in registry() if f.target == "emotion_wheel/2025/format.csv")
    server.drop.add(cut.key)
    rc = main(["data", "fetch", "wheels", "--base-url", server.url, "--retries", "1", "-q"])
    err = capsys.readouterr().err
    assert rc == 1
    assert server.requests.count("/" + cut.key) == 2  # one try, one retry
    assert "format.csv: download failed after 2 attempt(s)" in err and "Traceback" not in err
    assert not (cache / UPSTREAM_DIR / cut.key).exists() and not (cache / cut.target).exists()
    assert _no_temp_files(cache)
    # the files fetched before the failure stay; a rerun with a working server completes
    server.drop.clear()
    n = len(server.requests)
    missing = ["/" + f.key for f in registry() if f.group == "wheels" and not (cache / UPSTREAM_DIR / f.key).exists()]
    assert main(["data", "fetch", "wheels", "--base-url", server.url, "-q"]) == 0
    assert server.requests[n:] == missing
    assert (cache / cut.target).read_bytes() == (cache / UPSTREAM_DIR / cut.key).read_bytes()


def test_missing_assets_name_the_fetch_command(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("AFFECTGPT_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.setenv("AFFECTGPT_ASSET_DIR", str(tmp_path / "empty"))
    preds = tmp_path / "p.csv"
    preds.write_text("name,labels\na,[happy]\n", encoding="utf-8")
    assert main(["bench", "score", "--dataset", "meld", "--predictions", str(preds)]) == 2
    assert "affectgpt data fetch merunibench" in capsys.readouterr().err
    assert main(["bench", "run", "released", "--out", str(tmp_path / "o")]) == 2
    assert "affectgpt data fetch merunibench" in capsys.readouterr().err
    assert main(["bench", "score", "--dataset", "mer2024", "--predictions", str(preds)]) == 2
    assert "not public" in capsys.readouterr().err
    assert main(["data", "check"]) == 1
    assert "run `affectgpt data fetch wheels`" in capsys.readouterr().out
