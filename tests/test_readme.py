"""The README and the docs pages are tests: their code runs and prints what they say it prints.

- README.md: every ```python block runs (in order, in one namespace, in a fresh process so no
  state leaks into other tests). A line `print(expr)  # text` states what that print writes; the
  printed lines are compared with those comments.
- README.md's set-up section holds exactly the two promised commands.
- docs/user_guide.md, docs/index.md, docs/architecture.md: their `>>>` examples run as doctests.
"""
from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_PRINT_WITH_EXPECTATION = re.compile(r"^\s*print\(.*\)\s*#\s*(.+?)\s*$")


def code_blocks(text: str, language: str) -> list[str]:
    """The bodies of the fenced code blocks of `language` in a Markdown text, in order.

    >>> code_blocks("a\\n```python\\nx = 1\\n```\\nb\\n```sh\\nls\\n```\\n", "python")
    ['x = 1\\n']
    """
    return [body for lang, body in _FENCE.findall(text) if lang == language]


def section(text: str, title: str) -> str:
    """The Markdown text under the heading `## title`, up to the next heading of level 1 or 2."""
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^#{{1,2}} |\Z)", text, re.MULTILINE | re.DOTALL)
    assert m, f"no '## {title}' section"
    return m.group(1)


def expected_prints(code: str) -> list[str]:
    return [m.group(1) for line in code.splitlines() if (m := _PRINT_WITH_EXPECTATION.match(line))]


def _normalize(s: str) -> str:
    return " ".join(s.split())


def test_code_blocks_parser():
    text = "```python\nprint(1)  # 1\n```\n\n```\nplain\n```\n```python\ny = 2\n```\n"
    assert code_blocks(text, "python") == ["print(1)  # 1\n", "y = 2\n"]
    assert expected_prints(code_blocks(text, "python")[0]) == ["1"]


def test_readme_python_blocks_run_and_print_what_they_say():
    blocks = code_blocks(README.read_text(encoding="utf-8"), "python")
    assert blocks, "README.md has no python example"
    program = "\n".join(blocks)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"README example failed:\n{proc.stderr}"
    expected = expected_prints(program)
    got = proc.stdout.strip().splitlines()
    assert expected, "the README example should state what it prints"
    assert [_normalize(g) for g in got] == [_normalize(e) for e in expected], proc.stdout


def test_readme_has_exactly_two_setup_commands():
    setup = section(README.read_text(encoding="utf-8"), "Set up")
    blocks = code_blocks(setup, "sh")
    assert len(blocks) == 1, "the set-up section should hold one sh block"
    commands = [c for c in blocks[0].splitlines() if c.strip() and not c.lstrip().startswith("#")]
    assert len(commands) == 2, commands
    install_and_run, install_and_test = commands
    assert re.match(r"pip install \. && python examples/\w+\.py$", install_and_run), install_and_run
    assert "examples/logistic_regression.py" in install_and_run
    assert install_and_test == 'pip install -e ".[test]" && python -m pytest'


def test_ci_script_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert os.access(ROOT / ".ci" / "run", os.X_OK), ".ci/run must be executable"
    assert "set -euo pipefail" in ci
    assert re.search(r'pip install[^\n]* -e "\.\[test\]"', ci)
    assert "python -m pytest" in ci


def test_examples_named_in_the_readme_exist():
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"examples/(\w+\.py)", text))
    assert named
    missing = {n for n in named if not (ROOT / "examples" / n).exists()}
    # logistic_regression.py needs gradients and is written with them; until it lands, the
    # forward model (tests/test_examples.py) is the example that must run.
    assert missing <= {"logistic_regression.py"}, missing
    if missing:
        assert (ROOT / "examples" / "forward_model.py").exists()


DOC_PAGES = ["docs/index.md", "docs/user_guide.md", "docs/architecture.md"]


@pytest.mark.parametrize("page", DOC_PAGES)
def test_doc_page_examples(page: str):
    """Run a docs page's `>>>` examples as doctests (one namespace per page)."""
    path = ROOT / page
    text = path.read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"__name__": f"docs_{path.stem}"}, page, str(path), 0)
    if page == "docs/user_guide.md":
        assert len(test.examples) >= 20, "the user guide should show its examples running"
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    runner = doctest.DocTestRunner(optionflags=flags)
    import dataclasses

    import kiln

    saved = {f.name: getattr(kiln.config, f.name) for f in dataclasses.fields(kiln.config)}
    out: list[str] = []
    try:
        runner.run(test, out=out.append)
    finally:  # a page may change settings while showing them; do not leak that into other tests
        for name, value in saved.items():
            setattr(kiln.config, name, value)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, textwrap.indent("".join(out), "  ")


_IMPORT_ALL = r"""
import importlib, pkgutil, sys
import kiln
failed = []
for info in pkgutil.walk_packages(kiln.__path__, "kiln."):
    if info.name.endswith("__main__"):
        continue  # pytest's doctest collection skips __main__ modules too
    try:
        importlib.import_module(info.name)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] == "kiln":
            failed.append(f"{info.name}: {e}")
    except Exception as e:
        failed.append(f"{info.name}: {type(e).__name__}: {e}")
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_importing_every_kiln_module_has_no_side_effects(tmp_path):
    """`--doctest-modules` imports every module in kiln/: that must not write files anywhere.

    Runs in a fresh process with an empty working directory, HOME, cache directory and temporary
    directory, and checks they are all still empty afterwards.
    """
    dirs = {name: tmp_path / name for name in ("cwd", "home", "cache", "tmp")}
    for d in dirs.values():
        d.mkdir()
    env = dict(os.environ, HOME=str(dirs["home"]), KILN_CACHE_DIR=str(dirs["cache"]),
               TMPDIR=str(dirs["tmp"]), XDG_CACHE_HOME=str(dirs["home"] / ".cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-c", _IMPORT_ALL], cwd=dirs["cwd"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"modules that cannot be imported:\n{proc.stdout}{proc.stderr}"
    for name, d in dirs.items():
        left = sorted(str(p.relative_to(d)) for p in d.rglob("*"))
        assert not left, f"importing kiln's modules wrote into {name}: {left}"
