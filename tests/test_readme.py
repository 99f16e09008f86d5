"""The README's Python example is a test: it must run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 2, "the README's Python examples: training, then scoring images"
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {})
    assert (tmp_path / "runs" / "readme-vae" / "config.yaml").is_file()
    assert "decoder." in capsys.readouterr().out
    exec(compile(blocks[1], "README.md", "exec"), {})
    fid, precision, n_generated, n_real = capsys.readouterr().out.split()
    assert float(fid) > 10 and float(precision) < 0.5 and (n_generated, n_real) == ("400", "360")  # noise is far


def test_readme_names_the_two_setup_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
