"""Where named data files are looked for, in order.

1. the ``data_dir`` argument (``--data-dir``), and its ``<name>/`` subfolder: if given, nothing
   else is tried;
2. ``$GENLAB_DATA`` and ``$GENLAB_DATA/<name>``;
3. the cache, ``~/.cache/genlab/<name>`` (root overridable by ``$GENLAB_CACHE``);
4. system places (Debian's ``dataset-fashion-mnist`` installs into /usr/share/datasets);
5. a download into the cache, when allowed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from genlab.errors import DataError

# Places where distributions install data sets.
SYSTEM_PLACES: dict[str, tuple[str, ...]] = {
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist",),
}

# missing(dir) -> names of the files that ``dir`` lacks ([] = complete set).
Missing = Callable[[Path], list[str]]
# fetch(dir) downloads the set into ``dir`` or raises DataError.
Fetch = Callable[[Path], None]


def cache_root() -> Path:
    """The genlab cache directory: ``$GENLAB_CACHE`` or ``~/.cache/genlab``."""
    env = os.environ.get("GENLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "genlab"


def locate(
    name: str,
    *,
    missing: Missing,
    fetch: Fetch | None,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> Path:
    """Return a directory holding the complete file set of the named data set."""
    if data_dir is not None:
        return _in_data_dir(name, Path(data_dir).expanduser(), missing)
    looked: list[str] = []
    for place in _standard_places(name):
        lacking = missing(place) if place.is_dir() else None
        if lacking == []:
            return place
        looked.append(f"{place} (lacks {', '.join(lacking)})" if lacking else str(place))
    where = "; ".join(looked)
    if not download or fetch is None:
        raise DataError(
            f"{name} was not found (looked in {where}) and downloading is off: put its files in "
            f"one of these places, point --data-dir or $GENLAB_DATA at them, or allow download"
        )
    target = cache_root() / name
    try:
        fetch(target)
    except DataError as exc:
        raise DataError(f"{name} was not found (looked in {where}) and the download failed: {exc}") from exc
    lacking = missing(target)
    if lacking:
        raise DataError(f"the download of {name} into {target} is incomplete: {', '.join(lacking)} missing")
    return target


def _in_data_dir(name: str, root: Path, missing: Missing) -> Path:
    """An explicit ``--data-dir`` is the only place looked at: no fallback, no download."""
    if not root.is_dir():
        raise DataError(f"--data-dir {root} is not a directory: give the directory holding the {name} files")
    for place in (root, root / name):
        if place.is_dir() and not missing(place):
            return place
    raise DataError(
        f"--data-dir {root} (or its {name}/ subfolder) does not hold {name}: missing "
        f"{', '.join(missing(root))}; put the files there or leave out --data-dir to search the usual places"
    )


def _standard_places(name: str) -> list[Path]:
    """Directories searched when no ``data_dir`` is given, in order (download excluded)."""
    places: list[Path] = []
    env = os.environ.get("GENLAB_DATA")
    if env:
        root = Path(env).expanduser()
        places += [root, root / name]
    places.append(cache_root() / name)
    places += [Path(p) for p in SYSTEM_PLACES.get(name, ())]
    return places
