"""Whether the compiled kernels can be switched on here, read from the installed packages'
metadata without importing numba (its import costs about half a second: ``minirnn
--version`` reports it from here, :mod:`minirnn.nn.kernels.jit` imports it).

``MINIRNN_NO_COMPILED=1`` switches the compiled kernels off even with numba installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os

__all__ = ["DISABLE_ENV", "numba_installed", "switched_off"]

#: ``MINIRNN_NO_COMPILED=1`` turns the compiled kernels off even with numba installed.
DISABLE_ENV = "MINIRNN_NO_COMPILED"

_EXTRA = 'install the extra: pip install "minirnn[fast]"'


def switched_off() -> bool:
    """Whether ``MINIRNN_NO_COMPILED`` is set to anything but empty or ``0``."""
    return os.environ.get(DISABLE_ENV, "").strip() not in ("", "0")


def numba_installed() -> tuple[str | None, str | None]:
    """``(version, None)`` where numba is installed, switched on and (as far as its
    metadata says) works with the installed numpy; else ``(None, why not)``.

    Nothing is imported but the metadata readers (and ``packaging``, where installed, to
    check numba's numpy range: an installed numba refuses to import under a numpy it does
    not support). Whether numba then imports is known when a compiled kernel first runs
    (:func:`minirnn.nn.kernels.compiled.compiled_available`).
    """
    if switched_off():
        return None, f"switched off by {DISABLE_ENV}"
    if importlib.util.find_spec("numba") is None:
        return None, f"numba is not installed; {_EXTRA}"
    try:
        version = importlib.metadata.version("numba")
    except importlib.metadata.PackageNotFoundError:  # importable, but no metadata
        return "unknown version", None
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # packaging is not a dependency: skip the numpy range check
        return version, None
    numpy_version = importlib.metadata.version("numpy")
    for text in importlib.metadata.requires("numba") or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.name == "numpy" and requirement.marker is None and \
                not requirement.specifier.contains(numpy_version, prereleases=True):
            return None, (f"numba {version} needs numpy {requirement.specifier}, numpy "
                          f"{numpy_version} is installed")
    return version, None
