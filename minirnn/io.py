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

Loading reads with ``allow_pickle=False``, checks the header (format, version, kind), that
the set of arrays is exactly the declared one, every array's shape, dtype and SHA-256, and
that the architecture rebuilt from the header (only classes of minirnn's own registry, or
ones the user registered with :func:`register_layer`) has exactly these parameter names and
shapes -- all before a value is written into a model. Any failure raises
:class:`ModelFileError` (a ``ValueError``) and loads nothing.

Writes are atomic: a temporary file in the same folder, flushed and fsynced, then
``os.replace``-d over the target, so a crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.cells.base import Cell
from minirnn.layers.base import Layer

__all__ = [
    "FORMAT_VERSION", "ModelFileError", "build_layer", "load_model", "read_file",
    "register_cell", "register_layer", "save_model", "write_file",
]

FORMAT_VERSION = 1
_HEADER_KEY = "__header__"

_LAYER_REGISTRY: dict[str, type[Layer]] = {}
_CELL_REGISTRY: dict[str, type[Cell]] = {}


class ModelFileError(ValueError):
    """A model or checkpoint file is missing, truncated, corrupt, of another version or
    architecture. Nothing has been loaded when it is raised."""


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Allow ``cls`` (by its class name) in model files; usable as a class decorator."""
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer expects a Layer subclass, got {cls!r}")
    _LAYER_REGISTRY[cls.__name__] = cls
    return cls


def register_cell(cls: type[Cell]) -> type[Cell]:
    """Allow a custom cell class in a saved generic ``Recurrent`` layer."""
    if not (isinstance(cls, type) and issubclass(cls, Cell)):
        raise TypeError(f"register_cell expects a Cell subclass, got {cls!r}")
    _CELL_REGISTRY[cls.__name__] = cls
    return cls


def _register_builtins() -> None:
    from minirnn import cells, layers
    from minirnn.model import Sequential

    for name in layers.__all__:
        obj = getattr(layers, name)
        if isinstance(obj, type) and issubclass(obj, Layer) and obj not in (
                Layer, layers.Activation):
            register_layer(obj)
    register_layer(Sequential)
    from minirnn.language_model import LanguageModel

    register_layer(LanguageModel)
    for name in cells.__all__:
        obj = getattr(cells, name)
        if isinstance(obj, type) and issubclass(obj, Cell) and obj is not Cell:
            register_cell(obj)


def build_layer(spec: Any) -> Layer:
    """Rebuild a layer from ``{"class": name, "config": {...}}`` using the registry only."""
    if not _LAYER_REGISTRY:
        _register_builtins()
    if not isinstance(spec, dict) or not isinstance(spec.get("class"), str) \
            or not isinstance(spec.get("config"), dict):
        raise ModelFileError(f"layer spec must be {{'class': str, 'config': dict}}, got {spec!r}")
    name, config = spec["class"], dict(spec["config"])
    if name not in _LAYER_REGISTRY:
        raise ModelFileError(
            f"unknown layer class {name!r}; known: {sorted(_LAYER_REGISTRY)} "
            "(register a custom layer with minirnn.io.register_layer)"
        )
    cls = _LAYER_REGISTRY[name]
    try:
        if name == "Sequential":
            layers = config.get("layers")
            if not isinstance(layers, list):
                raise ModelFileError("Sequential config needs a list 'layers'")
            return cls(*[build_layer(s) for s in layers])
        if name == "Recurrent":
            cell_name = config.pop("cell_class", None)
            if cell_name not in _CELL_REGISTRY:
                raise ModelFileError(f"unknown cell class {cell_name!r}; known: "
                                     f"{sorted(_CELL_REGISTRY)} (see register_cell)")
            return cls(_CELL_REGISTRY[cell_name], **config)  # type: ignore[call-arg]
        return cls(**config)
    except ModelFileError:
        raise
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"cannot build {name} from config {config}: {exc}") from exc


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
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
        raise ModelFileError(f"{path}: expected a {kind} file, got {header.get('kind')!r}")
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


def model_arrays(model: Layer) -> dict[str, np.ndarray]:
    return {f"model/{k}": v for k, v in model.state_dict().items()}


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
    """
    from minirnn import __version__

    header = {"kind": "model", "minirnn_version": __version__,
              "model": {"class": type(model).__name__, "config": model.get_config()},
              "metadata": dict(metadata or {})}
    write_file(path, header, model_arrays(model))


def load_model(path: str | os.PathLike[str]) -> Layer:
    """Load a model saved by :func:`save_model`.

    Raises :class:`ModelFileError` (and loads nothing) if anything is off.
    """
    header, arrays = read_file(path, "model")
    model = build_layer(header.get("model"))
    state = check_model_arrays(model, arrays, str(path))
    model.load_state_dict(state)
    return model


def load_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``metadata`` saved with a model."""
    header, _ = read_file(path, "model")
    meta = header.get("metadata", {})
    return dict(meta) if isinstance(meta, dict) else {}
