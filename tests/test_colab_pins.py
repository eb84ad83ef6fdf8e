"""Installing the student package in Colab leaves Colab's own packages as they are.

``constraints/colab-2026.txt`` holds the versions Colab ships. The student wheel's requirements
must accept every one of them (an upgrade of Colab's ipywidgets 7.7.1 to 8.x breaks its widget
front end), checked twice: statically on the wheel's metadata, and by pip resolving the wheel's
requirements against the pins for Colab's Python (``pip install --dry-run --report``).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "constraints" / "colab-2026.txt"
COLAB_PYTHON = "3.12"  # the Python of the pip freeze the pins come from
# Colab's torch is a CUDA build that is not on PyPI (and a 900 MB wheel): it is checked
# statically against the requirement, and left out of pip's resolution.
NOT_RESOLVED = {"torch", "torchvision"}
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]


def read_pins(path: Path = PINS) -> dict[str, Version]:
    """``{canonical name: version}`` of a constraints file of ``name==version`` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{path.name}: {line!r} is not a pin (name==version)"
        pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def wheel_metadata(wheel: Path) -> tuple[list[Requirement], SpecifierSet]:
    """The wheel's requirements (no extras) and its Requires-Python."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(name).decode())
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    return [r for r in reqs if r.marker is None], SpecifierSet(meta["Requires-Python"] or "")


def test_pins_file_is_readable_and_holds_what_colab_breaks_on():
    pins = read_pins()
    assert pins["ipywidgets"] == Version("7.7.1")
    assert {"widgetsnbextension", "ipython", "ipykernel", "notebook", "numpy", "torch"} <= set(pins)


@pytest.mark.slow
def test_student_requirements_accept_every_colab_pin(student_wheel):
    """Offline: each requirement of the wheel contains Colab's version; Python 3.10-3.13 allowed."""
    reqs, python = wheel_metadata(student_wheel)
    pins = read_pins()
    would_change = [
        f"{r} excludes Colab's {pins[canonicalize_name(r.name)]}"
        for r in reqs
        if canonicalize_name(r.name) in pins
        and not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]
    assert not would_change, f"pip would replace Colab's packages: {would_change}"
    assert [v for v in ("3.10", "3.11", "3.12", "3.13") if not python.contains(v)] == []


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_pip_resolves_the_student_package_on_colabs_pins(student_wheel, tmp_path):
    """pip, told Colab's versions as constraints, installs the wheel's requirements without
    changing one of them (a conflict fails the resolution; the report names the versions)."""
    if not _pypi_reachable():
        pytest.skip("PyPI is not reachable: pip cannot resolve Colab's versions offline")
    reqs, _ = wheel_metadata(student_wheel)
    wanted = [str(r) for r in reqs if canonicalize_name(r.name) not in NOT_RESOLVED]
    report = tmp_path / "report.json"
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--quiet",
        "--ignore-installed",
        "--only-binary=:all:",
        "--python-version",
        COLAB_PYTHON,
        "--implementation",
        "cp",
        *platforms,
        "--target",
        str(tmp_path / "target"),
        "--report",
        str(report),
        "-c",
        str(PINS),
        *wanted,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    said = [line for line in out.stderr.splitlines() if not line.startswith("WARNING")]
    assert out.returncode == 0, "pip cannot keep Colab's versions:\n" + "\n".join(said[-10:])
    chosen = {
        canonicalize_name(item["metadata"]["name"]): Version(item["metadata"]["version"])
        for item in json.loads(report.read_text())["install"]
    }
    pins = read_pins()
    changed = {n: (str(pins[n]), str(v)) for n, v in chosen.items() if n in pins and v != pins[n]}
    assert changed == {}
    # ipywidgets 7.7.1 comes with its own widgetsnbextension, the pair Colab's front end renders
    assert chosen["ipywidgets"] == Version("7.7.1")
    assert chosen["widgetsnbextension"] == pins["widgetsnbextension"]
