"""docs/rewrites.md: its worked example runs and its assertions hold."""
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "rewrites.md"


def test_worked_example_runs(capsys):
    text = DOC.read_text()
    section = text.split("## Worked example", 1)[1]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out
    assert "mul_by_own_reciprocal" in out and "canonicalize" in out


def test_every_python_block_compiles():
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S):
        compile(block, str(DOC), "exec")
