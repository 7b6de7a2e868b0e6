"""Fuzz the model boundary: scenario, uses and YAML-library files compile or raise an InputError naming a file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from fuzz_support import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from tiro.examples import example_dir
from tiro_models.compile import load_model
from tiro_models.errors import InputError

EXAMPLE = example_dir("datahall")
SCENARIO = "scenario-yaml-library.yaml"
LIBRARY = "datahall-library.yaml"
USES = "use-srv1.yaml"

WORDS = [
    "DataHall", "Rack", "Server", "CRAC", "ActivePower", "CPUTemperature", "FlowRate", "State", "Telemetry",
    "Attribute", "$number", "$type", "$ids", "$defaults", "$asset_library_name", "$asset_library_path",
    "extends", "points", "category", "type", "ge", "le", "gt", "lt", "unit", "choices", "enum", "float", "int",
    "str", "bool", "default", "time_var", "decimals", "description", LIBRARY, "2-5", "1", "-1", "0", "1e309",
    ".nan", "~", "null", "yes", "true", "[]", "{}", "'", '"', "&a", "*a", "!!python/object:os.system", "<<",
]  # fmt: skip
YAML_PUNCT = [":", "- ", "  ", "\n", "{", "}", "[", "]", ",", "#", "|", ">", "?", "%", "@", "`", "\t", "\x00"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=8), st.integers(-3, 3))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)
token_soup = st.lists(st.sampled_from(WORDS + YAML_PUNCT), max_size=40).map("".join)


@st.composite
def mutated(draw: st.DrawFn, original: str) -> str:
    """A real file with a few line-level mutations: drop, duplicate, re-indent, or splice in a token."""
    lines = original.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "indent", "dedent", "splice", "replace_value"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][2:]
        elif op == "splice":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(WORDS + YAML_PUNCT)) + lines[i][at:]
        else:
            key, sep, _ = lines[i].partition(":")
            if sep:
                lines[i] = f"{key}: {draw(st.sampled_from(WORDS))}"
    return "\n".join(lines) + "\n"


def _text_of(kind: str) -> st.SearchStrategy[str]:
    original = (EXAMPLE / {"scenario": SCENARIO, "uses": USES, "library": LIBRARY}[kind]).read_text()
    return st.one_of(
        mutated(original),
        documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
        token_soup,
        st.text(max_size=200),
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example with the YAML library (files are rewritten per case)."""
    d = tmp_path_factory.mktemp("model-fuzz")
    for name in (SCENARIO, LIBRARY, USES):
        shutil.copy(EXAMPLE / name, d / name)
    return d


def _compile_case(workdir: Path, tally, kind: str, text: str | bytes) -> None:
    files = {"scenario": SCENARIO, "uses": USES, "library": LIBRARY}
    originals = {k: (EXAMPLE / v).read_bytes() for k, v in files.items()}
    for k, name in files.items():
        body = text if k == kind else originals[k]
        (workdir / name).write_bytes(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body)
    try:
        load_model(workdir / SCENARIO, [workdir / USES])
    except InputError as e:
        message = str(e)
        assert message.strip(), "an InputError without a message"
        assert any(name in message for name in files.values()), f"error names no file: {message!r}"
        assert "Traceback" not in message
        tally.count(type(e).__name__)
    else:
        tally.count("compiled")


@pytest.mark.parametrize("kind", ["scenario", "uses", "library"])
def test_model_yaml(kind: str, workdir: Path, tally) -> None:
    @FUZZ
    @given(text=_text_of(kind))
    def case(text: str) -> None:
        _compile_case(workdir, tally, kind, text)

    case()
    tally.boundary = f"model YAML ({kind})"


@pytest.mark.parametrize("kind", ["scenario", "uses", "library"])
def test_model_yaml_bytes(kind: str, workdir: Path, tally) -> None:
    """Invalid UTF-8, BOMs and binary junk are encoding errors naming the file, not UnicodeDecodeError."""

    @FUZZ
    @given(blob=st.one_of(st.binary(max_size=64), st.binary(max_size=16).map(lambda b: b"\xef\xbb\xbf" + b)))
    def case(blob: bytes) -> None:
        _compile_case(workdir, tally, kind, blob)

    case()
    tally.boundary = f"model YAML bytes ({kind})"


def test_the_unmodified_example_still_compiles(workdir: Path) -> None:
    for name in (SCENARIO, LIBRARY, USES):
        shutil.copy(EXAMPLE / name, workdir / name)
    model = load_model(workdir / SCENARIO, [workdir / USES])
    assert model.slots
