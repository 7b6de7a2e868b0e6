"""The documentation site builds with `mkdocs build --strict`, its generated reference covers every command, plugin and
environment variable, and every relative link in the README and the docs resolves."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).with_name("mkdocs")
sys.path.insert(0, str(ROOT / "docs" / "hooks"))

import reference  # noqa: E402 - the site's own generator, from the docs folder

READ_BY_NAME = re.compile(r"""(?:environ\.get\(|environ\[|getenv\(|envvar=)\s*["']([A-Z][A-Z0-9_]*)["']""")
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--quiet", "--site-dir", str(target)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return target


def test_generated_cli_reference_has_every_command(site):
    import typer

    from karez.cli import app as karez_app
    from tiro_prefect.cli.app import app as tiro_app

    for name, app in (("tiro", tiro_app), ("karez", karez_app)):
        page = (site / "reference" / f"{name}-cli" / "index.html").read_text()
        root = typer.main.get_command(app)
        ctx = root.context_class(root, info_name=name)
        for command in root.list_commands(ctx):
            child = root.get_command(ctx, command)
            subs = child.list_commands(ctx) if hasattr(child, "list_commands") else [None]
            for sub in subs:
                title = " ".join(part for part in (name, command, sub) if part)
                assert f"<code>{title}</code>" in page, title


def test_generated_plugin_reference_has_every_plugin_with_its_keys(site):
    from karez.plugins import KINDS, all_plugins

    page = (site / "reference" / "plugins" / "index.html").read_text()
    for kind in KINDS:
        for name in all_plugins(None)[kind]:
            assert f"<code>{name}</code>" in page, name
    assert "# allowed_lateness: auto    # Seconds a window waits" in page  # a commented YAML default
    assert "# batch: false    #" in page and "# batch: False" not in page


def test_plugin_examples_show_what_the_converter_really_outputs(site):
    from karez.plugins import all_plugins

    page = (site / "reference" / "plugins" / "index.html").read_text()
    assert set(reference.EXAMPLES) <= set(all_plugins(None)["converter"])  # no example for a vanished type
    # the line protocol converter's output is produced at build time: the field named by `sensor`, time in ns
    assert "dc,host=rack-a1 inlet_temp=23.5 1764556200000000000" in page
    # fix_timestamp really parsed the abbreviated zone: 10:30 SGT is 02:30 UTC
    assert "1764556200.0" in page


def test_every_environment_variable_the_code_reads_is_documented():
    names = set()
    for folder in ("karez", "tiro", "tiro_models", "flows", "tasks", "tiro_prefect/cli", "line_protocol_text"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(re.findall(r"\b(?:TIRO|KAREZ)_[A-Z][A-Z_]*[A-Z]\b|\bNATS_URL\b", path.read_text()))
            # any other variable read by a literal name (PREFECT_…, HOME, …) must be documented as well
            names |= set(READ_BY_NAME.findall(path.read_text()))
    not_variables = {"KAREZ_DLQ", "KAREZ_CATEGORY", "TIRO_VALIDATION_DATA"}  # stream names
    not_variables |= {"KAREZ_LEASES", "KAREZ_LEASE_STATE", "KAREZ_SHARED_COLUMNS"}  # key-value buckets
    read = {n for n in names if n not in not_variables and not n.endswith("_")}
    assert {"PREFECT_API_URL", "KAREZ_NATS_USER", "TIRO_INFLUX_URL"} <= read  # the scan itself still finds them
    assert read <= set(reference.ENVIRONMENT), sorted(read - set(reference.ENVIRONMENT))
    assert set(reference.ENVIRONMENT) <= read, sorted(set(reference.ENVIRONMENT) - read)  # none documented in vain


def test_relative_links_resolve():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        for target, _ in LINK.findall(page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).resolve().exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_readme_says_why_each_dependency_is_there():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    readme = (ROOT / "README.md").read_text()
    why = readme[readme.index("## Why each dependency") :]
    names = [re.match(r"[A-Za-z0-9_.-]+", spec).group(0) for spec in project["dependencies"]]
    names += [re.match(r"[A-Za-z0-9_.-]+", spec).group(0) for spec in project["optional-dependencies"]["test"]]
    missing = [name for name in names if f"`{name}`" not in why and f"`{name}[" not in why]
    assert not missing, missing
