"""What a conditional model is asked for: one contract for every kind of condition.

A condition c is a float vector of ``dim`` values per example (a one-hot class, a one-hot
cluster; later multi-hot tags, InfoGAN codes). The model owns its condition: how c is drawn from
p(c) (seeded; by default with the training data's frequencies), what a real example's c is, and
how a user's words become one ("sneaker", "7"). Its state (frequencies, cluster centres) is in
the model's state dict, so checkpoints carry it.
"""

from __future__ import annotations

import abc
import difflib

import torch
from torch import nn
from torch.nn import functional as F

from genlab.data.dataset import DataSpec, Dataset
from genlab.errors import ConfigError, DataError, GenlabError

KINDS = ("none", "class", "tags", "clusters", "code")


def draw_index(p: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n indices (n,) drawn with probabilities ``p``, on p's device; from ``generator`` (CPU) when given."""
    if generator is None:
        return torch.multinomial(p, n, replacement=True)
    return torch.multinomial(p.cpu(), n, replacement=True, generator=generator).to(p.device)


class Condition(nn.Module, abc.ABC):
    kind: str = ""
    dim: int = 0

    def prepare(self, data: Dataset, to_model=None) -> None:
        """Read what p(c) needs from the training data (a fresh run only)."""

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n conditions (n, dim) from p(c), on the buffers' device; from ``generator`` (CPU) when given."""
        return self.one_hot(draw_index(self.p, n, generator))

    def one_hot(self, idx: torch.Tensor) -> torch.Tensor:
        return F.one_hot(idx, self.dim).to(self.p.dtype)

    @abc.abstractmethod
    def of_real(self, y: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        """The condition of real examples: labels ``y`` (n,) or model-space points ``x``."""

    @abc.abstractmethod
    def parse(self, text: str | int) -> int:
        """A user's words (a name or an index) as a category."""

    def loss(self, logits: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of a head's raw logits (B, dim) against conditions c (B, dim) (AC-GAN)."""
        return F.cross_entropy(logits, c.argmax(1))

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """The condition a head's raw logits (B, dim) say: (B, dim), one-hot here."""
        return self.one_hot(logits.argmax(1))

    def grid_rows(self) -> list:
        """What each row of a preview grid asks for (every category)."""
        return list(range(self.dim))

    def conditions(self, what, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, dim) conditions: drawn from p(c) when ``what`` is None, else the category it names
        (a name, an index, or (n,) category indices)."""
        if what is None:
            return self.sample(n, generator)
        if isinstance(what, torch.Tensor) and what.dim() == 1:
            if what.shape[0] != n:
                raise GenlabError(f"{what.shape[0]} conditions given for {n} samples")
            return self.one_hot(what.to(self.p.device).long())
        return self.one_hot(torch.full((n,), self.parse(what), device=self.p.device))


class Classes(Condition):
    """One-hot class labels; p(c) = the training set's class frequencies."""

    kind = "class"

    def __init__(self, spec: DataSpec):
        super().__init__()
        if not spec.num_classes:
            raise ConfigError("condition=class needs labelled data (digits, mnist, fashion-mnist, cifar10, "
                              "or an image folder with --labels-from folders)")
        self.dim = spec.num_classes
        self.names = tuple(spec.class_names or (str(i) for i in range(self.dim)))
        self.register_buffer("p", torch.full((self.dim,), 1.0 / self.dim))

    def prepare(self, data: Dataset, to_model=None) -> None:
        if data.train_labels is None:
            raise DataError(f"condition=class needs labelled data; {data.name} has no labels")
        counts = torch.bincount(data.train_labels, minlength=self.dim).to(self.p)
        self.p.copy_(counts / counts.sum())

    def of_real(self, y: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        return self.one_hot(y)

    def parse(self, text: str | int) -> int:
        word = str(text).strip()
        lower = [n.lower() for n in self.names]
        if word.lower() in lower:
            return lower.index(word.lower())
        if word.isdigit() and int(word) < self.dim:
            return int(word)
        close = difflib.get_close_matches(word.lower(), lower, n=3)
        hint = f"; did you mean {', '.join(repr(self.names[lower.index(c)]) for c in close)}?" if close else ""
        raise GenlabError(f"unknown class {word!r}: the classes are {', '.join(self.names)} "
                          f"(or an index 0-{self.dim - 1}){hint}")


class Tags(Condition):
    """Multi-hot tags of a tagged image set (genlab.data.tags): c (n, T), exclusive groups (one
    hair colour) one-hot within the group, other tags 0/1. p(c) is the training set's tag
    combinations (their empirical joint, kept as rows and frequencies). A request ("red hair, red
    eyes") fixes its groups and tags; the rest is drawn from the training combinations that agree
    with it (from all of them when none does)."""

    kind = "tags"

    def __init__(self, spec: DataSpec):
        super().__init__()
        if not spec.tags:
            raise ConfigError("condition=tags needs a tagged image set: toonfaces, or a folder of images with "
                              "a tags file beside them (tags.csv, tags.txt or list_attr_celeba.txt)")
        from genlab.data.tags import TagVocab

        self.vocab = TagVocab.from_dict(spec.tags)
        self.dim = len(self.vocab.names)
        self.register_buffer("rows", torch.zeros(1, self.dim))  # (U, T) the distinct training combinations
        self.register_buffer("p", torch.ones(1))  # (U,) their frequencies

    resizable_buffers = ("rows", "p")  # their size is the data's: a checkpoint's is taken as it is

    def _load_from_state_dict(self, state, prefix, *args, **kwargs):
        for name in self.resizable_buffers:
            if prefix + name in state:
                setattr(self, name, torch.empty_like(state[prefix + name], device=getattr(self, name).device))
        super()._load_from_state_dict(state, prefix, *args, **kwargs)

    def prepare(self, data: Dataset, to_model=None) -> None:
        if data.train_tags is None:
            raise DataError(f"condition=tags needs a tagged image set; {data.name} has no tags")
        rows, counts = torch.unique(data.train_tags, dim=0, return_counts=True)
        self.rows, self.p = rows.to(self.p), (counts / counts.sum()).to(self.p)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.rows[draw_index(self.p, n, generator)]

    def of_real(self, y: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        return y.to(self.p.dtype)

    def parse(self, text: str | int) -> list[int]:
        """A prompt ("girl with red hair and red eyes") as sorted tag indices."""
        from genlab.data.tags import parse_prompt

        return parse_prompt(str(text), self.vocab)

    def request(self, indices: list[int], n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, T) conditions holding the tags ``indices``; every group and tag they leave open drawn
        from the training combinations that hold them all."""
        want = torch.zeros(self.dim, dtype=torch.bool, device=self.p.device)
        want[indices] = True
        agree = (self.rows[:, want] > 0).all(1)
        p = self.p * agree if bool(agree.any()) else self.p
        c = self.rows[draw_index(p, n, generator)].clone()
        for group in self.vocab.groups:  # a requested member replaces the drawn one
            members = torch.tensor(group.members, device=c.device)
            if bool(want[members].any()):
                c[:, members] = want[members].to(c.dtype)
        c[:, want] = 1
        return c

    def conditions(self, what, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, T): drawn from p(c) (None), a prompt's tags (a string), tag indices (a list), or as
        given ((n, T) multi-hot)."""
        if what is None:
            return self.sample(n, generator)
        if isinstance(what, torch.Tensor) and what.dim() == 2:
            if what.shape != (n, self.dim):
                raise GenlabError(f"tag conditions must be ({n}, {self.dim}), got {tuple(what.shape)}")
            return what.to(self.p)
        return self.request(list(what) if isinstance(what, (list, tuple)) else self.parse(what), n, generator)

    def loss(self, logits: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return tag_loss(logits, c, self.vocab)

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        return tag_predict(logits, self.vocab)

    def grid_rows(self) -> list:
        """One row per member of the largest exclusive group (the hair colours), else per tag."""
        return [[i] for i in (largest_group(self.vocab).members if self.vocab.groups else range(self.dim))]


def largest_group(vocab):
    """The exclusive tag group with the most members (the hair colour of the anime sets)."""
    return max(vocab.groups, key=lambda g: len(g.members))


def _group_targets(logits: torch.Tensor, tags: torch.Tensor, group) -> tuple[torch.Tensor, torch.Tensor]:
    """A group's logits (B, m) and class targets (B,); a group that may be absent gets a "none"
    class whose logit is fixed at 0 (as SGAN's fake class), target m when no member is on."""
    members = list(group.members)
    z, t = logits[:, members], tags[:, members]
    if group.always:
        return z, t.argmax(1)
    z = torch.cat([z, z.new_zeros(z.shape[0], 1)], 1)
    return z, torch.where(t.sum(1) > 0, t.argmax(1), len(members))


def tag_loss(logits: torch.Tensor, tags: torch.Tensor, vocab) -> torch.Tensor:
    """Multi-label loss of raw logits (B, T) against multi-hot tags (B, T): a softmax
    cross-entropy per exclusive group (one hair colour) plus a binary cross-entropy per other tag
    (AC-GAN's multi-label head, Jin et al. 2017, https://arxiv.org/abs/1708.05509), summed over
    groups and tags, mean over the batch."""
    logits, tags = logits.float(), tags.float()
    loss = logits.new_zeros(())
    for group in vocab.groups:
        z, t = _group_targets(logits, tags, group)
        loss = loss + F.cross_entropy(z, t)
    if vocab.binary:
        b = list(vocab.binary)
        loss = loss + F.binary_cross_entropy_with_logits(logits[:, b], tags[:, b], reduction="sum") / logits.shape[0]
    return loss


def tag_predict(logits: torch.Tensor, vocab) -> torch.Tensor:
    """The tags raw logits (B, T) say, multi-hot (B, T): the arg-max of each group (or none),
    every other tag where its logit is > 0."""
    out = torch.zeros_like(logits, dtype=torch.float32)
    for group in vocab.groups:
        z, _ = _group_targets(logits, torch.zeros_like(logits), group)
        pick = z.argmax(1)
        on = pick < len(group.members)
        members = torch.tensor(group.members, device=logits.device)
        out[on.nonzero().flatten(), members[pick[on]]] = 1
    if vocab.binary:
        b = list(vocab.binary)
        out[:, b] = (logits[:, b] > 0).float()
    return out


class Clusters(Condition):
    """One-hot clusters fitted to the training points (a spherical Gaussian mixture, its number of
    components by BIC up to ``slots``); a real point's cluster is its nearest centre. Until
    ``prepare`` every point is in cluster 0; unused slots have probability 0 and a far centre."""

    kind = "clusters"
    FAR = 1e4  # centre of an unused slot, in model space (the data's RMS radius is 1)

    def __init__(self, slots: int, point_dim: int):
        super().__init__()
        self.dim = slots
        centroids = torch.full((slots, point_dim), self.FAR)
        centroids[0] = 0.0
        self.register_buffer("centroids", centroids)
        self.register_buffer("p", F.one_hot(torch.tensor(0), slots).float())

    @torch.no_grad()
    def prepare(self, data: Dataset, to_model=None) -> None:
        from genlab.metrics.modes import fit_modes, nearest_mode

        x = to_model(data.train.flatten(1).float().to(self.centroids.device))
        centres, _ = fit_modes(x.cpu(), max_modes=self.dim, seed=0)
        self.centroids.fill_(self.FAR)[:centres.shape[0]] = centres.to(self.centroids)
        labels = torch.cat([nearest_mode(chunk, self.centroids)[0] for chunk in x.split(8192)])
        counts = torch.bincount(labels, minlength=self.dim).to(self.p)
        self.p.copy_(counts / counts.sum())

    def of_real(self, y: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        return F.one_hot(torch.cdist(x.flatten(1), self.centroids).argmin(1), self.dim).to(x.dtype)

    def parse(self, text: str | int) -> int:
        word = str(text).strip()
        in_use = int((self.p > 0).sum())
        if not (word.isdigit() and int(word) < in_use):
            raise GenlabError(f"unknown cluster {word!r}: this run has clusters 0-{in_use - 1}")
        return int(word)

    @property
    def in_use(self) -> int:
        return int((self.p > 0).sum())


class Codes(Condition):
    """InfoGAN's latent codes (Chen et al. 2016, https://arxiv.org/abs/1606.03657): a categorical
    code of ``categories`` values (uniform) then ``continuous`` codes ~ U(-1, 1); c is the one-hot
    category then the continuous values, (n, categories + continuous). Nothing real has a code:
    the model infers it (Q)."""

    kind = "code"

    def __init__(self, categories: int, continuous: int):
        super().__init__()
        self.categories, self.continuous = categories, continuous
        self.dim = categories + continuous
        self.register_buffer("p", torch.full((categories,), 1.0 / categories))

    def one_hot(self, idx: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Codes of the categories ``idx`` (n,), their continuous codes drawn from U(-1, 1)."""
        n = idx.shape[0]
        u = (torch.rand(n, self.continuous, generator=generator) if generator is not None else
             torch.rand(n, self.continuous, device=self.p.device)).to(self.p.device) * 2 - 1
        return torch.cat([F.one_hot(idx, self.categories).to(self.p.dtype), u.to(self.p.dtype)], 1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.one_hot(draw_index(self.p, n, generator), generator)

    def conditions(self, what, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """As every condition's, with the continuous codes of a named category from ``generator`` too."""
        if what is None or isinstance(what, torch.Tensor):
            return super().conditions(what, n, generator) if what is None else self.one_hot(what.long(), generator)
        return self.one_hot(torch.full((n,), self.parse(what), device=self.p.device), generator)

    def of_real(self, y: torch.Tensor | None, x: torch.Tensor) -> None:
        return None  # a real image has no code: Q infers it

    def parse(self, text: str | int) -> int:
        word = str(text).strip()
        if not (word.isdigit() and int(word) < self.categories):
            raise GenlabError(f"unknown code {word!r}: this run's categorical code takes 0-{self.categories - 1}")
        return int(word)

    def sweep(self, continuous_index: int, values: torch.Tensor) -> torch.Tensor:
        """Codes (categories * len(values), dim): row k is category k, its columns ``values`` of the
        continuous code ``continuous_index``, the other continuous codes at 0."""
        if not 0 <= continuous_index < self.continuous:
            raise GenlabError(f"this run has {self.continuous} continuous code(s); there is no code {continuous_index + 1}")
        k, v = self.categories, values.numel()
        cat = F.one_hot(torch.arange(k, device=self.p.device).repeat_interleave(v), k).to(self.p.dtype)
        cont = torch.zeros(k * v, self.continuous, dtype=self.p.dtype, device=self.p.device)
        cont[:, continuous_index] = values.to(cont).repeat(k)
        return torch.cat([cat, cont], 1)


def make_condition(kind: str, spec: DataSpec, clusters: int) -> Condition | None:
    if kind == "none":
        return None
    if kind == "code":
        raise ConfigError("condition=code is InfoGAN's latent code: genlab train infogan")
    if kind == "class":
        return Classes(spec)
    if kind == "tags":
        return Tags(spec)
    if spec.kind != "points":
        raise ConfigError("condition=clusters applies to points (the 2-D lab); use condition=class for images")
    return Clusters(clusters, spec.dim)


def beside(z: torch.Tensor, condition: Condition | None, what=None, generator: torch.Generator | None = None,
           model: str = "model") -> torch.Tensor:
    """Latent codes: z (n, Z), then c (n, dim) of ``condition`` (drawn from p(c), or the one
    ``what`` names); z alone for an unconditional model, which takes no ``what``."""
    if condition is None:
        if what is not None:
            raise GenlabError(f"this {model} run is unconditional; it takes no condition")
        return z
    return torch.cat([z, condition.conditions(what, z.shape[0], generator).to(z.dtype)], 1)
