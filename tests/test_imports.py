"""Start-up: what a command imports before it needs it."""

import subprocess
import sys

import pytest

PROBE = """
import sys
from genlab.cli.main import main
try:
    main({argv!r})
except SystemExit:
    pass
print(sorted(m for m in ("torch", "sklearn") if m in sys.modules))
"""


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["eval", "--help"], ["figures", "--help"]])
def test_help_imports_neither_torch_nor_sklearn(argv):
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_model_registry_lists_names_without_torch():
    code = "import sys; from genlab.models import MODELS; print(sorted(MODELS)); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert "'wgan-gp'" in out[0] and out[1] == "False"


def test_loading_digits_imports_sklearn_only_then():
    code = ("import sys; import genlab.data.digits as d; a = 'sklearn' in sys.modules; d.load(); "
            "print(a, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_registry_entries_are_the_classes_they_name():
    from genlab.models import MODELS

    for name in MODELS:
        assert MODELS[name].name == name
