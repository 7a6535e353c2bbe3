"""The README's Python example, run exactly as written."""

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example_runs_as_written():
    text = README.read_text()
    section = text[text.index("## Python"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(block, "README.md", "exec"), {})
    shapes, error = printed.getvalue().rsplit(" ", 1)
    assert shapes == "(1, 256, 4, 64) (1, 9, 4, 64, 64)"
    assert float(error) < 1e-5
