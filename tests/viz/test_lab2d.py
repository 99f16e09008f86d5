"""D's field under real and generated 2-D points, its gradients, and the GIF of a run."""

import os

import pytest
import torch
from PIL import Image

from genlab.data.dataset import DataSpec
from genlab.models.gan import GAN, GANRecipeConfig as GANConfig  # the `gan` preset: the 2-D recipe
from genlab.viz import draw_field, draw_model_field, field_and_grad, make_gif
from genlab.viz.lab2d import DPI, FIGSIZE, data_bounds, gradient

SIZE = (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))
SPEC = DataSpec(kind="points", shape=(2,), center=(0.5, -0.25), scale=2.0)


def tiny_gan(**kw) -> GAN:
    torch.manual_seed(0)
    return GAN(GANConfig(g_hidden=(16,), d_hidden=(16,), z_dim=4, **kw), SPEC).eval()


def ring(n: int = 400) -> torch.Tensor:
    a = torch.linspace(0, 6.283, n)
    return torch.stack([a.cos(), a.sin()], 1) + 0.5


def quadratic(x: torch.Tensor) -> torch.Tensor:  # grad = (2 x0, 3)
    return x[:, 0] ** 2 + 3 * x[:, 1]


def test_gradient_by_autograd_and_by_finite_differences():
    x = torch.randn(50, 2)
    expected = torch.stack([2 * x[:, 0], torch.full((50,), 3.0)], 1)
    assert torch.allclose(gradient(quadratic, x), expected, atol=1e-5)
    no_graph = torch.no_grad()(quadratic)  # like GAN.field
    assert torch.allclose(gradient(no_graph, x), expected, atol=1e-2)
    assert torch.equal(gradient(no_graph, x, grad_field=lambda p: torch.ones_like(p)), torch.ones(50, 2))


@pytest.mark.parametrize("pack", [1, 2])
def test_field_and_grad_matches_the_model_field(pack):
    m = tiny_gan(pack=pack)
    x = torch.randn(30, 2)
    score, grad = field_and_grad(m, x)
    assert score.shape == (30,) and grad.shape == (30, 2)
    assert torch.allclose(score, m.field(x), atol=1e-6)
    assert torch.allclose(grad, gradient(m.field, x), atol=2e-2)  # finite differences of GAN.field
    assert all(p.grad is None for p in m.parameters())  # D's parameters untouched


@pytest.mark.parametrize("loss", ["ns", "wgan-gp", "ls", "hinge"])
def test_draw_model_field_writes_a_png_of_the_expected_size(tmp_path, loss):
    m = tiny_gan(loss=loss)
    path = draw_model_field(tmp_path / "samples" / "field-step00000010.png", m, ring(), m.sample(200),
                            title=f"{loss}, step 10")
    with Image.open(path) as im:
        assert im.size == SIZE
    assert os.listdir(tmp_path / "samples") == ["field-step00000010.png"]  # no temporary file left


def test_draw_field_without_a_field_and_with_given_bounds(tmp_path):
    path = draw_field(tmp_path / "p.png", ring(), ring() * 0.5, None, bounds=(-3, 3, -3, 3))
    with Image.open(path) as im:
        assert im.size == SIZE


def test_data_bounds_are_a_square_with_margin():
    x0, x1, y0, y1 = data_bounds(torch.tensor([[0.0, 0.0], [2.0, 1.0]]), margin=0.1)
    assert (x0, x1) == pytest.approx((-0.2, 2.2)) and y1 - y0 == pytest.approx(2.4)


def test_make_gif_keeps_every_frame_at_the_first_size(tmp_path):
    frames = []
    for i, size in enumerate([(60, 40), (30, 20), (61, 41)]):
        frames.append(tmp_path / f"f{i}.png")
        Image.new("RGB", size, (80 * i, 255 - 80 * i, 40)).save(frames[-1])
    out = make_gif(frames, tmp_path / "samples" / "training.gif", duration_ms=100)
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == 3 and im.size == (60, 40)
    assert sorted(os.listdir(tmp_path / "samples")) == ["training.gif"]
    with pytest.raises(ValueError):
        make_gif([], tmp_path / "empty.gif")


def test_make_gif_thins_long_runs(tmp_path):
    frames = []
    for i in range(12):
        frames.append(tmp_path / f"f{i:02d}.png")
        Image.new("RGB", (8, 8), (20 * i, 0, 0)).save(frames[-1])
    with Image.open(make_gif(frames, tmp_path / "a.gif", max_frames=5)) as im:
        assert im.n_frames == 5
