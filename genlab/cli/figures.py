"""``genlab figures --out DIR``: the course's GAN theory drawn from computation (:mod:`genlab.theory`).

Writes into DIR:
  optimal_discriminator.png      p_r, p_g, D* = p_r / (p_r + p_g) and a D trained with BCE on samples
  js_vs_wasserstein.png          L(G|D*) = 2 JS - 2 log 2 and W_1 vs theta on the parallel lines
  generator_gradients.png        saturating vs non-saturating generator gradient vs D(G(z))
  generator_losses.png           every generator loss and its gradient vs D's raw score (LSGAN, WGAN)
  discriminator_vs_critic.png    disjoint supports: D* is flat on them, the W_1 critic has slope 1
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from genlab.cli.argtypes import example, seed_int
from genlab.errors import GenlabError

# the course's 1-D picture: a bimodal p_r and a unimodal p_g that overlaps it (means, stds, weights)
P_R = ((-2.0, 1.5), (0.6, 0.8), (0.4, 0.6))
P_G = ((0.5,), (1.2,), None)
REAL, FAKE, D_STAR, TRAINED, CRITIC = "tab:green", "tab:orange", "k", "tab:purple", "tab:blue"


def add_parser(subparsers) -> argparse.ArgumentParser:
    f = subparsers.add_parser("figures", help="draw the course's GAN theory (D*, JS vs W1, gradients) as PNGs",
                              description="Compute and draw the theory of GANs: the optimal discriminator, "
                                          "JS vs Wasserstein on the parallel lines, generator gradients.")
    example(f, "figures --out OUT --quick")
    f.add_argument("--out", required=True, help="directory for the PNGs (created if missing)")
    f.add_argument("--quick", action="store_true", help="fewer samples and training steps (seconds)")
    f.add_argument("--seed", type=seed_int, default=0)
    return f


def run(args: argparse.Namespace) -> int:
    """Write every figure into ``args.out`` (created if missing), print their paths, return 0."""
    out = _out_dir(Path(args.out))
    quick = bool(getattr(args, "quick", False))
    seed = int(getattr(args, "seed", 0) or 0)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: one thread is fastest and polite
    try:
        paths = [
            optimal_discriminator_figure(out / "optimal_discriminator.png", quick, seed),
            js_vs_wasserstein_figure(out / "js_vs_wasserstein.png", quick, seed),
            generator_gradients_figure(out / "generator_gradients.png"),
            generator_losses_figure(out / "generator_losses.png"),
            critic_figure(out / "discriminator_vs_critic.png"),
        ]
    finally:
        torch.set_num_threads(threads)
    for p in paths:
        print(p)
    return 0


def _out_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise GenlabError(f"--out {out} is a file; give a directory for the figures")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GenlabError(f"cannot create --out directory {out}: {e.strerror or e}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise GenlabError(f"cannot write to --out directory {out}: permission denied")
    return out


def _plt():
    from genlab.viz.lab2d import pyplot

    return pyplot()


def _save(fig, path: Path) -> Path:
    from genlab.viz.lab2d import save_figure

    return save_figure(fig, path, dpi=110)


# -- section 4: the optimal discriminator ------------------------------------------------------------


def optimal_discriminator_figure(path: Path, quick: bool, seed: int) -> Path:
    """Top: p_r, p_g and histograms of the training samples. Bottom: D* and a trained D."""
    from genlab import theory as T

    n, steps = (1000, 400) if quick else (4000, 2000)
    t0 = time.perf_counter()
    p_r, p_g = T.Mixture1D(*P_R), T.Mixture1D(*P_G)
    xr, xg = p_r.sample(n, seed), p_g.sample(n, seed + 1)
    d = T.train_1d_discriminator(xr, xg, steps=steps, seed=seed)
    x = np.linspace(-5, 5, 801)
    pr, pg = p_r.pdf(x), p_g.pdf(x)
    d_star, d_hat = T.optimal_discriminator(pr, pg), d.probability(x)
    mass = (pr + pg) / 2 > 0.02
    err = float(np.abs(d_hat - d_star)[mass].max())
    plt = _plt()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 6.2), sharex=True, layout="constrained")
    a1.plot(x, pr, color=REAL, lw=2, label=r"$p_r(x)$ (data)")
    a1.plot(x, pg, color=FAKE, lw=2, label=r"$p_g(x)$ (generator)")
    bins = np.linspace(-5, 5, 61)
    a1.hist(xr, bins, density=True, color=REAL, alpha=0.2, label=f"{n} samples of each")
    a1.hist(xg, bins, density=True, color=FAKE, alpha=0.2)
    a1.set_ylabel("density")
    a1.legend(fontsize=8)
    a1.set_title("The optimal discriminator (Goodfellow et al. 2014, Prop. 1)")
    a2.plot(x, d_star, color=D_STAR, lw=2, label=r"$D^*(x) = p_r(x)\,/\,(p_r(x) + p_g(x))$")
    a2.plot(x, d_hat, color=TRAINED, lw=2, ls="--",
            label=f"D trained with BCE on the samples ({steps} steps)")
    a2.axhline(0.5, color="0.6", lw=0.8, ls=":")
    a2.fill_between(x, 0, 1, where=~mass, color="0.9", step="mid", label="little mass: D unconstrained")
    a2.set_ylim(-0.02, 1.02)
    a2.set_xlabel("x")
    a2.set_ylabel("D(x)")
    a2.legend(fontsize=8, loc="lower left")
    a2.set_title(rf"$a \log y + b \log(1 - y)$ is largest at $y = a/(a+b)$, so $D^* = p_r/(p_r + p_g)$;"
                 "\n" rf"trained D: max $|D - D^*|$ = {err:.3f} where there is mass "
                 rf"({time.perf_counter() - t0:.1f} s)", fontsize=9)
    return _save(fig, path)


def js_vs_wasserstein_figure(path: Path, quick: bool, seed: int) -> Path:
    """The parallel lines: closed forms as lines, sample estimates as markers, against theta."""
    from genlab import theory as T

    n, count = (128, 41) if quick else (400, 81)
    res = T.parallel_lines(np.linspace(-1, 1, count), n=n, seed=seed, x_bin=0.02)
    fine = np.linspace(-1, 1, 2001)  # for W_1
    plt = _plt()
    fig, (a0, a1, a2) = plt.subplots(1, 3, figsize=(12, 3.8), layout="constrained",
                                      gridspec_kw={"width_ratios": [0.7, 1, 1]})
    z = np.linspace(0, 1, 20)
    a0.plot(np.zeros_like(z), z, "o", color=REAL, ms=3, label=r"$P_0 = (0, Z)$")
    a0.plot(np.full_like(z, 0.4), z, "o", color=FAKE, ms=3, label=r"$Q_\theta = (\theta, Z)$")
    a0.annotate("", xy=(0.4, 0.5), xytext=(0, 0.5), arrowprops=dict(arrowstyle="<->"))
    a0.text(0.2, 0.53, r"$\theta$", ha="center")
    a0.set_xlim(-0.3, 0.7)
    a0.set_title(r"$Z \sim U[0, 1]$", fontsize=10)
    a0.legend(fontsize=8, loc="lower center")
    # closed form: 2 log 2 - 2 log 2 = 0 for theta != 0, -2 log 2 at theta = 0 (a jump, not a dip)
    a1.plot([-1, 0], [0, 0], color=D_STAR, lw=2, label=r"$2\,JS - 2\log 2$ (closed form)")
    a1.plot([0, 1], [0, 0], color=D_STAR, lw=2)
    a1.plot([0], [0], "o", color=D_STAR, mfc="white", zorder=3)
    a1.plot([0], [-2 * T.LOG2], "o", color=D_STAR, zorder=3)
    a1.plot(res.theta, res.gan_objective_est, "s", color=TRAINED, ms=4, mfc="none",
            label=f"from {n} samples (histogram JS)")
    a1.axhline(-2 * T.LOG2, color="0.6", lw=0.8, ls=":")
    a1.set_xlabel(r"$\theta$")
    a1.set_ylabel(r"$L(G \mid D^*)$")
    a1.set_title(r"Jensen-Shannon: flat for $\theta \neq 0$, no gradient", fontsize=10)
    a1.legend(fontsize=8)
    a2.plot(fine, np.abs(fine), color=D_STAR, lw=2, label=r"$W_1 = |\theta|$ (closed form)")
    a2.plot(res.theta, res.w1_est, "s", color=CRITIC, ms=4, mfc="none",
            label=f"from {n} samples (optimal transport)")
    a2.set_xlabel(r"$\theta$")
    a2.set_ylabel(r"$W_1(P_0, Q_\theta)$")
    a2.set_title(r"Wasserstein-1: continuous, gradient $\mathrm{sign}(\theta)$", fontsize=10)
    a2.legend(fontsize=8)
    fig.suptitle("The parallel lines (Arjovsky et al. 2017, Example 1)")
    return _save(fig, path)


# -- section 3: saturating vs non-saturating ------------------------------------------------------


def generator_gradients_figure(path: Path) -> Path:
    """|d loss / d logit| of the two generator losses against D(G(z)), and the losses themselves."""
    from genlab import theory as T

    d = np.linspace(1e-3, 1 - 1e-3, 999)
    g = T.generator_gradients(d)
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    a1.plot(d, np.log1p(-d), color=FAKE, lw=2, label=r"saturating: minimise $\log(1 - D(G(z)))$")
    a1.plot(d, -np.log(d), color=CRITIC, lw=2, label=r"non-saturating: minimise $-\log D(G(z))$")
    a1.set_xlabel(r"$D(G(z))$")
    a1.set_ylabel("generator loss")
    a1.set_ylim(-5, 5)
    a1.legend(fontsize=8)
    a1.set_title("The generator's two losses", fontsize=10)
    a2.plot(d, np.abs(g["saturating_logit"]), color=FAKE, lw=2, label=r"saturating: $|{-D}| = D$")
    a2.plot(d, np.abs(g["non_saturating_logit"]), color=CRITIC, lw=2, label=r"non-saturating: $1 - D$")
    a2.axvspan(0, 0.1, color="0.9")
    a2.text(0.05, 0.5, "D rejects\nthe fakes\n(early)", ha="center", fontsize=8)
    a2.set_xlabel(r"$D(G(z)) = \sigma(a)$")
    a2.set_ylabel(r"$|\partial\, \mathrm{loss} / \partial a|$ (a = D's logit)")
    a2.legend(fontsize=8, loc="center right")
    a2.set_title(r"Gradient reaching G: the saturating one vanishes as $D(G(z)) \to 0$", fontsize=10)
    fig.suptitle("Saturating vs non-saturating generator loss (Goodfellow et al. 2014, Section 3)")
    return _save(fig, path)


# -- sections 6-7: loss shapes, and the critic on disjoint supports ------------------------------


def generator_losses_figure(path: Path) -> Path:
    """Each generator loss of genlab.models.gan_losses and its autograd derivative vs the raw score."""
    from genlab import theory as T

    s = np.linspace(-6, 6, 241)
    curves = T.generator_loss_curves(s, ("minimax", "ns", "ls", "wgan"))
    labels = {"minimax": r"minimax $\log(1 - \sigma(s))$", "ns": r"non-saturating $-\log\sigma(s)$",
              "ls": r"LSGAN $\frac{1}{2}(s - c)^2$, c = 1", "wgan": r"WGAN / hinge $-s$"}
    colours = {"minimax": FAKE, "ns": CRITIC, "ls": TRAINED, "wgan": REAL}
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    for name, (value, grad) in curves.items():
        a1.plot(s, value, color=colours[name], lw=2, label=labels[name])
        a2.plot(s, np.abs(grad), color=colours[name], lw=2, label=labels[name])
    for a in (a1, a2):
        a.axvline(0, color="0.6", lw=0.8, ls=":")
        a.set_xlabel("D's raw score s on a fake (s > 0: judged real by a sigmoid D)")
    a1.set_ylim(-6, 8)
    a1.set_ylabel("generator loss")
    a1.legend(fontsize=8)
    a2.set_ylim(0, 3)
    a2.set_ylabel(r"$|\partial\, \mathrm{loss} / \partial s|$ (autograd)")
    a2.set_title("Sigmoid losses stop pulling fakes judged real (s >> 0);\nLS pulls them to s = c; WGAN always 1",
                 fontsize=9)
    fig.suptitle("Generator losses vs D's score (Mao et al. 2016; Arjovsky et al. 2017)")
    return _save(fig, path)


def critic_figure(path: Path) -> Path:
    """Disjoint supports: D* is 1 on p_r, 0 on p_g (no slope where the fakes are); the optimal
    1-Lipschitz critic is a ramp whose dual value E_r f - E_g f equals W_1."""
    from genlab import theory as T

    x = np.linspace(-3, 5, 1601)
    pr, pg = T.Mixture1D((-1.5,), (0.25,)).pdf(x), T.Mixture1D((3.0,), (0.25,)).pdf(x)
    pr, pg = pr / (pr.sum() * (x[1] - x[0])), pg / (pg.sum() * (x[1] - x[0]))
    d_star = T.optimal_discriminator(pr, pg)
    f = T.optimal_critic_1d(x, pr, pg)
    f = f - np.interp(0.75, x, f)  # any constant shift is as good: centre it between the two
    dual = T.critic_value(x, f, pr, pg)
    plt = _plt()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 5.6), sharex=True, layout="constrained")
    a1.fill_between(x, pr, color=REAL, alpha=0.5, label=r"$p_r$")
    a1.fill_between(x, pg, color=FAKE, alpha=0.5, label=r"$p_g$")
    a1.set_ylabel("density")
    a1.legend(fontsize=8)
    a1.set_title(f"Disjoint supports: JS = {T.js_divergence(pr, pg):.4f} = log 2, "
                 f"W1 = {T.w1_1d(*_quantile_samples(pr, pg, x)):.3f}", fontsize=10)
    a2.plot(x, d_star, color=D_STAR, lw=2, label=r"$D^* = p_r / (p_r + p_g)$ (left axis)")
    a3 = a2.twinx()
    a3.plot(x, f, color=CRITIC, lw=2)
    a3.set_ylabel(r"$f^*(x)$", color=CRITIC)
    a2.plot([], [], color=CRITIC, lw=2,
            label=rf"optimal critic $f^*$, $|f'| \leq 1$ (right axis): $E_r f^* - E_g f^* = {dual:.3f}$")
    a2.set_xlabel("x")
    a2.set_ylabel(r"$D^*(x)$")
    a2.set_ylim(-0.05, 1.3)
    a2.legend(fontsize=8, loc="upper right")
    a2.set_title(r"$D^*$ is flat where $p_g$ lives: $\nabla_x D^* = 0$; $f^*$ still points fakes to the data",
                 fontsize=10)
    fig.suptitle("Discriminator vs Wasserstein critic (Arjovsky et al. 2017, Section 3)")
    return _save(fig, path)


def _quantile_samples(pr: np.ndarray, pg: np.ndarray, x: np.ndarray, n: int = 20_000):
    """Quantile samples of two gridded densities, for scipy's W_1 (a check of the dual value)."""
    u = (np.arange(n) + 0.5) / n
    dx = x[1] - x[0]
    return (np.interp(u, np.cumsum(pr) * dx, x), np.interp(u, np.cumsum(pg) * dx, x))
