"""The package works outside a checkout: the wheel holds the example scenarios and the Prefect layer (as
`tiro_prefect`, with no top-level `flows` or `tasks`), and `tiro demo` runs from it in a fresh virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(target), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (built,) = target.glob("tiro-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    """A new virtual environment with only the wheel installed; its dependencies come from this environment's
    site-packages by a path entry (which runs none of the .pth files there, so the editable checkout stays out)."""
    folder = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    new_site = Path(
        subprocess.run(
            [str(folder / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    (new_site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return folder


def _run(venv: Path, *args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_wheel_ships_examples_and_the_prefect_layer_without_clashing_names(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert "flows" not in tops and "tasks" not in tops and "scenarios" not in tops
    for expected in ("tiro_prefect/flows/pipeline.py", "tiro_prefect/tasks/validation.py",
                     "tiro_prefect/deployments/prefect.yaml", "tiro/_scenarios/datahall/scenario.yaml",
                     "tiro/_scenarios/datahall/config/karez.yaml"):  # fmt: skip
        assert expected in names, expected


def test_demo_runs_from_the_wheel_in_a_fresh_venv(venv, tmp_path):
    code = "import tiro, tiro_prefect.flows.pipeline as p; print(tiro.__file__, p.__file__)"
    where = _run(venv, "python", "-c", code, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert all(str(venv) in path for path in where.stdout.split()), where.stdout  # not the checkout
    clash = _run(venv, "python", "-c", "import flows", cwd=tmp_path)
    assert clash.returncode != 0 and "No module named 'flows'" in clash.stderr

    offline = _run(venv, "tiro", "demo", "--offline", cwd=tmp_path)
    assert offline.returncode == 0, offline.stderr
    assert "validation valid" in offline.stdout

    demo = _run(venv, "tiro", "demo", "--duration", "8", "--workdir", str(tmp_path), cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "  validation windows invalid: 0" in demo.stdout.splitlines()
    assert (tmp_path / "tiro.db").is_file()
