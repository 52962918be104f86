"""The package's one mechanism for heavy optional imports: a module proxy.

``keras``, ``tf``, ``papermill``, ``resemblyzer`` and ``distributed`` are imported on the first
attribute access (``keras.layers.Dense``), so ``import voxlib.transfer`` does
not pay TensorFlow's seconds, and an optional package that is not installed
fails only where it is used, with an error that names the extra to install.

Why not ``lazy_loader.load``: it registers a half-made module in
``sys.modules``. Matplotlib probes ``sys.modules["tensorflow"]`` on every
``imshow`` (to recognise tensors), which then imports TensorFlow before Keras,
and the lazily registered ``keras`` is left half-loaded (no ``keras.Input``).
This proxy is never put in ``sys.modules``, and ``tf`` imports Keras first.
"""
from __future__ import annotations

import importlib

__all__ = ["Heavy", "keras", "tf", "papermill", "resemblyzer", "distributed"]


class Heavy:
    """A module imported on first attribute access.

    Parameters
    ----------
    name : str
        The module to import.
    first : tuple of str
        Modules to import before it (TensorFlow after Keras, see the module docstring).
    hint : str
        Appended to the ImportError when the module is not installed.
    """

    def __init__(self, name: str, *, first: tuple = (), hint: str = ""):
        self._name, self._first, self._hint, self._module = name, tuple(first), hint, None

    @property
    def loaded(self) -> bool:
        """Whether the module has been imported through this proxy."""
        return self._module is not None

    def _load(self):
        if self._module is None:
            try:
                for name in self._first:
                    importlib.import_module(name)
                self._module = importlib.import_module(self._name)
            except ImportError as exc:
                raise ImportError(f"{self._name} is needed here but could not be imported ({exc}). "
                                  f"{self._hint}".strip()) from exc
        return self._module

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<voxlib heavy module {self._name!r} ({'loaded' if self.loaded else 'not loaded yet'})>"


keras = Heavy("keras", hint="Install the project: pip install -e .")
tf = Heavy("tensorflow", first=("keras",), hint="Install the project: pip install -e .")
papermill = Heavy("papermill", hint="Install the project: pip install -e .")
resemblyzer = Heavy("resemblyzer", hint="It is optional: pip install -e '.[speaker]' (pulls in PyTorch).")
distributed = Heavy("distributed", hint="The sweep on Dask needs it: pip install -e '.[cluster]'.")
