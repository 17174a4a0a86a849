"""The IPv4 country and network database is read from its arrays in the cache directory after
the first process has saved them; a damaged or missing cache is rebuilt from the data file and
every answer stays the same."""

from __future__ import annotations

import pytest

from vpcflow.enrich import geo

ADDRESSES = ["8.8.8.8", "1.1.1.1", "52.95.110.1", "10.0.0.1", "223.255.255.1", "1.0.0.0"]


def _answers():
    return geo.country(ADDRESSES).to_pylist(), geo.asn(ADDRESSES).to_pylist()


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.setenv("VPCFLOW_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(geo, "_db", {})
    monkeypatch.setattr(geo, "_tables", {})
    return tmp_path


def _from_file_refused(monkeypatch):
    real = geo.GeoDB.__init__

    def init(self, path, *a, **k):
        if path is not None:
            raise AssertionError("read the data file, not the cache")
        real(self, path, *a, **k)

    monkeypatch.setattr(geo.GeoDB, "__init__", init)


def test_the_second_process_reads_the_cache(fresh, monkeypatch):
    first = _answers()
    assert first[0][:4] == ["US", "AU", "US", "private"]
    saved = list((fresh / "geo").glob("v4-*.npz"))
    assert len(saved) == 1
    monkeypatch.setattr(geo, "_db", {})
    monkeypatch.setattr(geo, "_tables", {})
    _from_file_refused(monkeypatch)
    assert _answers() == first


@pytest.mark.parametrize("damage", [b"", b"not a numpy file", None])
def test_a_damaged_cache_is_rebuilt(fresh, monkeypatch, damage):
    first = _answers()
    (saved,) = (fresh / "geo").glob("v4-*.npz")
    if damage is None:  # cut short
        saved.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    else:
        saved.write_bytes(damage)
    monkeypatch.setattr(geo, "_db", {})
    monkeypatch.setattr(geo, "_tables", {})
    assert _answers() == first
    monkeypatch.setattr(geo, "_db", {})
    monkeypatch.setattr(geo, "_tables", {})
    _from_file_refused(monkeypatch)
    assert _answers() == first  # and saved again, whole


def test_an_unwritable_cache_directory_is_skipped(fresh, monkeypatch):
    (fresh / "geo").write_text("a file where the directory would be")
    assert _answers()[0][:4] == ["US", "AU", "US", "private"]


def test_a_cache_that_cannot_be_written_leaves_nothing_behind(fresh, monkeypatch):
    def full(path, **arrays):
        with open(path, "wb") as fh:
            fh.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(geo.np, "savez", full)
    assert _answers()[0][:4] == ["US", "AU", "US", "private"]
    assert list((fresh / "geo").iterdir()) == []
