"""What crosses out of the sandbox: an answer is taken without following links and read with every
size bounded (autograder/answers.py)."""

from __future__ import annotations

import io
import json
import os
import resource
import zipfile

import numpy as np
import pytest

from autograder.answers import BadAnswer, parse, take


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.array(json.dumps({"ok": 1})), **arrays)
    return buf.getvalue()


@pytest.fixture
def folder(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    yield tmp_path, fd
    os.close(fd)


def test_a_regular_answer_is_taken_once_and_removed(folder):
    path, fd = folder
    (path / "ans.npz").write_bytes(_npz(x=np.arange(3)))
    data = take(fd, "ans.npz")
    assert parse(data)[1]["x"].tolist() == [0, 1, 2]
    assert not (path / "ans.npz").exists()
    assert take(fd, "ans.npz") == "no answer file"


def test_links_fifos_and_oversized_answers_are_refused(folder, tmp_path_factory):
    path, fd = folder
    victim = tmp_path_factory.mktemp("host") / "grades.csv"
    victim.write_bytes(_npz(x=np.arange(3)))
    (path / "link.npz").symlink_to(victim)
    assert "opened safely" in take(fd, "link.npz")
    (path / "hard.npz").write_bytes(_npz(x=np.arange(3)))
    os.link(path / "hard.npz", path / ".kept")  # a link the kernel keeps, to rewrite it later
    assert "other links" in take(fd, "hard.npz")
    os.mkfifo(path / "fifo.npz")
    assert "not a regular file" in take(fd, "fifo.npz")  # and it did not block
    (path / "big.npz").write_bytes(b"x" * 2000)
    assert "larger than" in take(fd, "big.npz", limit=1000)
    assert victim.read_bytes() == _npz(x=np.arange(3)) and victim.exists()


def test_sizes_are_bounded_before_anything_is_decompressed():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    buf = io.BytesIO()
    np.savez_compressed(buf, __meta__=np.array("{}"), big=np.zeros(1 << 28, np.uint8))  # 256 MiB
    assert len(buf.getvalue()) < 2 << 20
    with pytest.raises(BadAnswer, match="MiB of arrays"):
        parse(buf.getvalue(), budget=64 << 20)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown < 200 << 10, f"reading it took {grown} kB"  # kB: not 256 MiB inflated
    # a header that lies: it declares a small array, the member inflates to far more
    lying = io.BytesIO()
    with (
        zipfile.ZipFile(lying, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("x.npy", "w") as member,
    ):
        header = {"descr": "|u1", "fortran_order": False, "shape": (4,)}
        np.lib.format.write_array_header_1_0(member, header)
        member.write(b"\0" * (64 << 20))
    meta, arrays = parse(lying.getvalue())
    assert arrays["x"].shape == (4,)


@pytest.mark.parametrize(
    "data, why",
    [
        (b"not a zip", "not an npz"),
        (_npz(x=np.array(["a", "b"])), "dtype"),
        (_npz(x=np.zeros(2, dtype=[("a", "i4")])), "dtype"),
    ],
)
def test_what_is_not_plain_numbers_is_refused(data, why):
    with pytest.raises(BadAnswer, match=why):
        parse(data)


def test_objects_and_a_meta_that_is_not_an_object_are_refused():
    buf = io.BytesIO()
    np.savez(buf, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(BadAnswer):
        parse(buf.getvalue())
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.array("[1, 2]"))
    with pytest.raises(BadAnswer, match="JSON object"):
        parse(buf.getvalue())
