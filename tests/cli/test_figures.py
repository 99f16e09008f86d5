"""``genlab figures``: the course's theory drawn from computation, quickly, with clear errors."""

import argparse
import time

import pytest
from PIL import Image

from genlab.cli import figures
from genlab.errors import GenlabError

EXPECTED = ["optimal_discriminator.png", "js_vs_wasserstein.png", "generator_gradients.png",
            "generator_losses.png", "discriminator_vs_critic.png"]


def parse(*argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="genlab")
    figures.add_parser(p.add_subparsers(dest="command"))
    return p.parse_args(["figures", *map(str, argv)])


@pytest.mark.timing
def test_quick_writes_every_figure_and_prints_the_paths(tmp_path, capsys):
    out = tmp_path / "new" / "dir"  # created when missing
    t0 = time.process_time()
    assert figures.run(parse("--out", out, "--quick")) == 0
    assert time.process_time() - t0 < 30  # CPU seconds: a few on one core
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPECTED)  # no temporary files left
    assert capsys.readouterr().out.split() == [str(out / name) for name in EXPECTED]
    for name in EXPECTED:
        with Image.open(out / name) as im:
            assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 300


def test_out_is_a_file(tmp_path):
    f = tmp_path / "file.png"
    f.write_text("x")
    with pytest.raises(GenlabError, match="is a file"):
        figures.run(parse("--out", f))
    with pytest.raises(GenlabError, match="cannot create"):
        figures.run(parse("--out", f / "sub"))


def test_out_is_required():
    with pytest.raises(SystemExit):
        parse()


def test_wired_into_the_genlab_command(tmp_path, capsys):
    from genlab.cli import main

    if "figures" not in main.COMMANDS:
        pytest.skip("genlab.cli.main does not register 'figures' yet")
    f = tmp_path / "file"
    f.write_text("x")
    assert main.main(["figures", "--out", str(f)]) == 2
    assert "error:" in capsys.readouterr().err
