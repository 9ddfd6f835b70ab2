"""Model and checkpoint files: npz arrays plus a JSON header, loaded without pickle.

Format (``format_version`` 1): an uncompressed ``.npz`` (a zip of ``.npy`` files) with

* ``__header__``: a 0-d unicode array holding JSON::

    {"format": "minirnn", "format_version": 1, "kind": "model" | "checkpoint",
     "minirnn_version": "...", "model": {"class": "Sequential", "config": {...}},
     "arrays": {"model/0.weight_ih_l0": {"shape": [...], "dtype": "float64",
                                          "sha256": "..."}, ...},
     ... (checkpoints: "solver": {...})}

* one array per entry of ``"arrays"``: ``model/<parameter name>`` for weights, and for
  checkpoints ``optimizer/<i>/<key>`` and ``extra/<...>`` for optimizer and callback state.

Loading first checks the archive itself (every member a ``.npy``, stored uncompressed, named
once, no larger than the file: no zip bomb), then reads with ``allow_pickle=False``, checks the
header (format, version, kind), that the set of arrays is exactly the declared one, every
array's shape, dtype and SHA-256, that the header's sizes fit the stored arrays (so a forged
``hidden_size`` cannot allocate before it is refused), and that the architecture rebuilt
from the header (only classes of minirnn's own registry, or ones the user registered with
:func:`register_layer` / :func:`register_cell`) has exactly these parameter names and
shapes -- all before a value is written into a model. Any failure raises
:class:`ModelFileError` (a ``ValueError``) and loads nothing.

Writes are atomic: a temporary file in the same folder (mode 0666 less the umask, its name at
most 218 characters), flushed and fsynced, then ``os.replace``-d over the target, so a crash
mid-save leaves the previous file intact. What loading would refuse is refused at save,
before anything is written: weights with NaN/Inf, and a class the loader could not find by
its name (:func:`check_savable`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.nn.layers.base import Layer
from minirnn.nn.registry import (
    cell_class,
    cell_classes,
    layer_class,
    layer_classes,
    register_cell,
    register_layer,
)

__all__ = [
    "FORMAT_VERSION", "ModelFileError", "build_layer", "check_savable", "load_model",
    "read_file", "register_cell", "register_layer", "save_model", "write_file",
]

FORMAT_VERSION = 1
_HEADER_KEY = "__header__"

#: Config keys whose integer values are sizes; checked against the stored arrays before a
#: layer is built, so a forged header cannot make the loader allocate or loop without limit.
_SIZE_KEY = re.compile(r"(size|features|units|_dim|^num_.*|layers)$")
#: Bound for sizes of a layer that stores no arrays (nothing for a size to allocate).
_FREE_LAYER_SIZE_LIMIT = 1 << 20
#: The first bytes of every ``.npy`` file (numpy's format: ``\x93NUMPY``).
_NPY_MAGIC = b"\x93NUMPY"

class ModelFileError(ValueError):
    """A model or checkpoint file is missing, truncated, corrupt, of another version or
    architecture. Nothing has been loaded when it is raised."""


def _size_ints(config: Any, key: str = "") -> list[tuple[str, int]]:
    """Integer values under size-like keys in a (nested) config, with their keys."""
    if isinstance(config, dict):
        return [pair for k, v in config.items() if k != "layers" or not isinstance(v, list)
                for pair in _size_ints(v, str(k))]
    if isinstance(config, list):
        return [pair for v in config for pair in _size_ints(v, key)]
    if isinstance(config, int) and not isinstance(config, bool) and _SIZE_KEY.search(key):
        return [(key, config)]
    return []


def check_header_sizes(spec: Any, shapes: Mapping[str, tuple[int, ...]], where: str,
                       prefix: str = "") -> None:
    """Refuse header sizes the stored arrays cannot back, before any layer is built.

    ``shapes`` maps parameter names (``"0.weight_ih_l0"``) to their stored shapes. For each
    layer spec (its own parameters are those under its prefix): every size (an int under a
    key like ``hidden_size``, ``in_features``, ``num_layers``) is at most the largest stored
    dimension or the number of stored arrays, ``num_layers`` at most the number of arrays, and
    the two largest sizes multiply to at most the number of stored elements. A legitimate
    file always passes (each size is a dimension of some weight matrix); a forged header
    cannot make building allocate more than a small multiple of what the file holds.
    """
    if not isinstance(spec, dict):
        return
    config = spec.get("config")
    if not isinstance(config, dict):
        return
    sub = config.get("layers")
    if isinstance(sub, list):
        if len(sub) > max(len(shapes), 1) + 1024:
            raise ModelFileError(f"{where}: header lists {len(sub)} layers for "
                                 f"{len(shapes)} stored arrays")
        for i, child in enumerate(sub):
            check_header_sizes(child, shapes, where, f"{prefix}{i}.")
    own = [s for name, s in shapes.items() if name.startswith(prefix)]
    n_arrays = len(own)
    max_dim = max((d for s in own for d in s), default=0)
    elements = sum(int(np.prod(s)) for s in own)
    sizes = _size_ints(config)
    limit = max(max_dim, n_arrays, 1) if own else _FREE_LAYER_SIZE_LIMIT
    for key, value in sizes:
        bound = max(n_arrays, 1) if key == "num_layers" and own else limit
        if value > bound:
            raise ModelFileError(
                f"{where}: header says {spec.get('class')} {key}={value}, but the stored "
                f"arrays {'of this layer ' if prefix else ''}allow at most {bound}")
    top = sorted((v for _, v in sizes if v > 0), reverse=True)[:2]
    if own and len(top) == 2 and top[0] * top[1] > max(elements, 1):
        raise ModelFileError(
            f"{where}: header sizes of {spec.get('class')} ({dict(sizes)}) need more "
            f"parameters than the {elements} stored values")


def build_layer(spec: Any) -> Layer:
    """Rebuild a layer from ``{"class": name, "config": {...}}`` using the registry only."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class"), str) \
            or not isinstance(spec.get("config"), dict):
        raise ModelFileError(f"layer spec must be {{'class': str, 'config': dict}}, got {spec!r}")
    name, config = spec["class"], dict(spec["config"])
    cls = layer_class(name)
    if cls is None:
        raise ModelFileError(
            f"unknown layer class {name!r}; known: {sorted(layer_classes())} "
            "(register a custom layer with minirnn.nn.registry.register_layer)"
        )
    try:
        if name == "Sequential":
            layers = config.get("layers")
            if not isinstance(layers, list):
                raise ModelFileError("Sequential config needs a list 'layers'")
            return cls(*[build_layer(s) for s in layers])
        if name == "Recurrent":
            cell_name = config.pop("cell_class", None)
            cell = cell_class(cell_name) if isinstance(cell_name, str) else None
            if cell is None:
                raise ModelFileError(
                    f"unknown cell class {cell_name!r}; known: {sorted(cell_classes())} "
                    "(register a custom cell with minirnn.nn.registry.register_cell)")
            return cls(cell, **config)  # type: ignore[call-arg]
        return cls(**config)
    except ModelFileError:
        raise
    except (TypeError, ValueError, OverflowError, MemoryError, RecursionError) as exc:
        raise ModelFileError(f"cannot build {name} from config {config}: "
                             f"{type(exc).__name__}: {exc}") from exc


def _same_class(registered: type | None, cls: type) -> bool:
    """Whether loading by ``cls``'s name builds ``cls``: the registered class is it (or the
    same definition run again, as when a notebook cell is re-run)."""
    return registered is cls or (
        registered is not None and registered.__module__ == cls.__module__
        and registered.__qualname__ == cls.__qualname__)


def _refuse_unloadable(kind: str, cls: type, where: str, registered: type | None) -> None:
    register = f"register_{kind}"
    how = (f"decorate it with @{register} (from minirnn.nn.registry import {register}) or "
           f"call {register}({cls.__name__})")
    if registered is None:
        problem = (f"{kind} class {cls.__name__!r} ({where}) is not registered, so the file "
                   "could not be loaded")
        fix = f"register the class before saving, and in the program that loads the file: {how}"
    else:
        problem = (f"{kind} class {cls.__name__!r} ({where}) is {cls.__module__}."
                   f"{cls.__qualname__}, but the registry's {cls.__name__!r} is "
                   f"{registered.__module__}.{registered.__qualname__}, which loading would "
                   "build instead")
        fix = f"rename the class, or register it in place of the other: {how}"
    raise ValueError(f"cannot save this model: {problem}; {fix}. Nothing was written.")


def check_savable(model: Layer, spec: Any = None, where: str = "the model") -> dict[str, Any]:
    """The model's spec ``{"class", "config"}``, after checking :func:`load_model` could
    rebuild it: every class it names (the model's, a :class:`~minirnn.Sequential`'s layers',
    a generic ``Recurrent`` layer's cell class) registered, under its name, as that very class.

    :func:`save_model` calls it before anything is written, so an unregistered custom
    layer or cell fails at save time (``ValueError`` saying how to register it) rather
    than when the file is loaded.
    """
    if spec is None:
        spec = {"class": type(model).__name__, "config": model.get_config()}
    cls = type(model)
    registered = layer_class(cls.__name__)
    if not _same_class(registered, cls):
        _refuse_unloadable("layer", cls, where, registered)
    config = spec["config"]
    if cls.__name__ == "Sequential":
        children = list(getattr(model, "layers", []))
        for i, (child, child_spec) in enumerate(zip(children, config.get("layers", []),
                                                    strict=True)):
            check_savable(child, child_spec, f"layer {i} of {where}" if where != "the model"
                          else f"layer {i}")
    elif cls.__name__ == "Recurrent" and "cell_class" in config:
        cell = getattr(model, "cell_class", None)
        if isinstance(cell, type):
            found = cell_class(cell.__name__)
            if not _same_class(found, cell):
                _refuse_unloadable("cell", cell, f"the cell of {where}", found)
    return dict(spec)


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _create_temporary(folder: Path, target: str) -> tuple[Any, str]:
    """A new, exclusive temporary file in ``folder``, opened for binary writing.

    Its name is the target's cut to 200 characters plus a random part, so a 250-character
    file name still works (file systems allow 255). It is created with mode 0666 so the umask
    applies, as for any file the user creates (``tempfile.mkstemp`` would force 0600).
    """
    for _ in range(100):
        name = os.path.join(folder, f".{target[:200]}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        return os.fdopen(fd, "wb"), name
    raise FileExistsError(f"cannot create a temporary file in {folder}")  # pragma: no cover


def write_file(path: str | os.PathLike[str], header: dict[str, Any],
               arrays: Mapping[str, np.ndarray]) -> None:
    """Atomically write ``arrays`` and a JSON ``header`` (``"arrays"`` is filled in)."""
    path = Path(path)
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    for key, value in arrays.items():
        if value.dtype == object:
            raise TypeError(f"array {key!r} has dtype object, which cannot be saved safely")
    header = dict(header)
    header.update(format="minirnn", format_version=FORMAT_VERSION)
    header["arrays"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype), "sha256": _digest(v)}
                        for k, v in arrays.items()}
    payload = {_HEADER_KEY: np.array(json.dumps(header, allow_nan=True))}
    payload.update(arrays)
    folder = path.parent if str(path.parent) else Path(".")
    handle, tmp_name = _create_temporary(folder, path.name)
    try:
        with handle:
            np.savez(handle, **payload)  # type: ignore[arg-type]
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on folders
        pass


def read_file(path: str | os.PathLike[str], kind: str) -> tuple[dict[str, Any],
                                                                 dict[str, np.ndarray]]:
    """Read and verify a file written by :func:`write_file`; returns (header, arrays)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    _check_archive(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            if _HEADER_KEY not in names:
                raise ModelFileError(f"{path}: not a minirnn file (no header)")
            raw = data[_HEADER_KEY]
            if raw.dtype.kind != "U" or raw.shape != ():
                raise ModelFileError(f"{path}: header must be a JSON string")
            header = json.loads(str(raw))
            arrays = {k: data[k] for k in names if k != _HEADER_KEY}
            for key, value in arrays.items():  # (the archive check already makes sure)
                if not isinstance(value, np.ndarray):
                    raise ModelFileError(f"{path}: archive member {key + '.npy'!r} is not "
                                         "a .npy array")
    except ModelFileError:
        raise
    except Exception as exc:  # any parse failure (zip, npy header, JSON) means corruption
        raise ModelFileError(f"{path}: unreadable or corrupt model file "
                             f"({type(exc).__name__}: {exc})") from exc
    if not isinstance(header, dict) or header.get("format") != "minirnn":
        raise ModelFileError(f"{path}: not a minirnn file (header format "
                             f"{header.get('format') if isinstance(header, dict) else header!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelFileError(f"{path}: format version {version!r} is not supported "
                             f"(this minirnn reads versions 1..{FORMAT_VERSION})")
    if header.get("kind") != kind:
        hint = header.get("open_with")  # e.g. a classifier file names its loader
        raise ModelFileError(f"{path}: expected a {kind} file, got {header.get('kind')!r}"
                             + (f"; it is {hint}" if isinstance(hint, str) else ""))
    declared = header.get("arrays")
    if not isinstance(declared, dict) or set(declared) != set(arrays):
        missing = sorted(set(declared or {}) - set(arrays))
        extra = sorted(set(arrays) - set(declared or {}))
        raise ModelFileError(f"{path}: arrays do not match the header "
                             f"(missing {missing}, undeclared {extra})")
    for key, array in arrays.items():
        meta = declared[key]
        if not isinstance(meta, dict) or list(array.shape) != meta.get("shape") \
                or str(array.dtype) != meta.get("dtype"):
            raise ModelFileError(
                f"{path}: array {key!r} has shape {array.shape} and dtype {array.dtype}, "
                f"the header says {meta}"
            )
        if array.dtype.kind not in "fiub":
            raise ModelFileError(f"{path}: array {key!r} has unsupported dtype {array.dtype}")
        if _digest(array) != meta.get("sha256"):
            raise ModelFileError(f"{path}: array {key!r} fails its checksum (corrupt file)")
    return header, arrays


def _check_archive(path: Path) -> None:
    """Refuse archive members numpy would mishandle, before a byte is inflated.

    Every member must be a ``.npy`` file stored uncompressed (as :func:`write_file` writes
    them), named once, no larger than the file itself, and start with numpy's magic string:
    a compressed member could inflate without limit (a zip bomb), a non-``.npy`` member (by
    its name or by its content) would come back as raw bytes, and of two members with one
    name only the last would be seen.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except Exception as exc:  # any zip parse failure means a corrupt file
        raise ModelFileError(f"{path}: unreadable or corrupt model file "
                             f"({type(exc).__name__}: {exc})") from exc
    size = path.stat().st_size
    seen: set[str] = set()
    for info in members:
        if info.filename in seen:
            raise ModelFileError(f"{path}: archive member {info.filename!r} appears twice")
        seen.add(info.filename)
        if not info.filename.endswith(".npy"):
            raise ModelFileError(f"{path}: archive member {info.filename!r} is not a .npy array")
        if info.compress_type != zipfile.ZIP_STORED:
            raise ModelFileError(f"{path}: archive member {info.filename!r} is compressed; "
                                 "minirnn files store arrays uncompressed")
        if info.file_size != info.compress_size or info.file_size > size:
            raise ModelFileError(f"{path}: archive member {info.filename!r} claims "
                                 f"{info.file_size} bytes in a file of {size}")
    # A member named .npy but not in numpy's format (text, say) would come back from
    # np.load as raw bytes, not an array: its first bytes must be numpy's magic string.
    try:
        with zipfile.ZipFile(path) as archive:
            for info in members:
                with archive.open(info) as member:
                    start = member.read(len(_NPY_MAGIC))
                if start != _NPY_MAGIC:
                    raise ModelFileError(
                        f"{path}: archive member {info.filename!r} is not a .npy array "
                        f"(it starts with {start[:16]!r}, not numpy's {_NPY_MAGIC!r})")
    except ModelFileError:
        raise
    except Exception as exc:  # a member that cannot be read means a corrupt file
        raise ModelFileError(f"{path}: unreadable or corrupt model file "
                             f"({type(exc).__name__}: {exc})") from exc


def model_arrays(model: Layer) -> dict[str, np.ndarray]:
    """The model's weights as file arrays; non-finite weights are refused, since loading
    refuses them too (a file that saves must load)."""
    state = model.state_dict()
    for name, value in state.items():
        if not np.isfinite(value).all():
            raise ValueError(f"parameter {name!r} contains NaN or Inf: such a model cannot be "
                             "loaded again, so it is not saved")
    return {f"model/{k}": v for k, v in state.items()}


def stored_shapes(arrays: Mapping[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """Shapes of the ``model/`` arrays by parameter name."""
    return {k[len("model/"):]: v.shape for k, v in arrays.items() if k.startswith("model/")}


def check_model_arrays(model: Layer, arrays: Mapping[str, np.ndarray],
                       where: str) -> dict[str, np.ndarray]:
    """The ``model/`` arrays as a state dict, after checking names, shapes and dtypes."""
    state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    own = dict(model.named_parameters())
    if set(state) != set(own):
        raise ModelFileError(
            f"{where}: parameters do not match the architecture (missing "
            f"{sorted(set(own) - set(state))}, unexpected {sorted(set(state) - set(own))})"
        )
    for name, param in own.items():
        if state[name].shape != param.shape or state[name].dtype != param.dtype:
            raise ModelFileError(
                f"{where}: parameter {name!r} is {state[name].shape} {state[name].dtype}, "
                f"the architecture needs {param.shape} {param.dtype}"
            )
        if not np.isfinite(state[name]).all():
            raise ModelFileError(f"{where}: parameter {name!r} contains NaN or Inf")
    return state


def save_model(path: str | os.PathLike[str], model: Layer,
               metadata: Mapping[str, Any] | None = None) -> None:
    """Save architecture and weights atomically (see the module docstring for the format).

    Parameters
    ----------
    path : str or PathLike
        Conventionally ``*.npz``; written as given.
    model : Layer
        Any layer whose classes are registered (all built-in ones are) and that
        implements ``get_config``.
    metadata : mapping, optional
        JSON-serializable extras stored in the header (e.g. scaler parameters).

    Raises
    ------
    ValueError
        Before anything is written: a class the file would name (the model's, a
        ``Sequential``'s layers', a ``Recurrent`` layer's cell) is not registered
        (:func:`~minirnn.nn.registry.register_layer` /
        :func:`~minirnn.nn.registry.register_cell`), or weights are NaN/Inf.
    NotImplementedError
        A layer does not implement ``get_config``.
    """
    from minirnn.nn.version import __version__

    header = {"kind": "model", "minirnn_version": __version__, "model": check_savable(model),
              "metadata": dict(metadata or {})}
    write_file(path, header, model_arrays(model))


def load_model(path: str | os.PathLike[str]) -> Layer:
    """Load a model saved by :func:`save_model`.

    Raises :class:`ModelFileError` (and loads nothing) if anything is off.
    """
    header, arrays = read_file(path, "model")
    check_header_sizes(header.get("model"), stored_shapes(arrays), str(path))
    model = build_layer(header.get("model"))
    state = check_model_arrays(model, arrays, str(path))
    model.load_state_dict(state)
    return model


def load_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``metadata`` saved with a model."""
    header, _ = read_file(path, "model")
    meta = header.get("metadata", {})
    return dict(meta) if isinstance(meta, dict) else {}
