"""The isolation layers, strongest first; each is a `Layer` (base.py) in a module of its own.

To add a layer: subclass `Layer`, put it in `LAYER_CLASSES` at its strength; the CLI's
`--isolation` choices and the docs' table come from here.
"""

from grader.sandbox.layers.base import IsolationError, Launch, Layer
from grader.sandbox.layers.namespaces import NamespacesLayer
from grader.sandbox.layers.rlimits import RlimitsLayer
from grader.sandbox.layers.uid import UidLayer

LAYER_CLASSES: tuple[type[Layer], ...] = (NamespacesLayer, UidLayer, RlimitsLayer)
LAYERS: tuple[str, ...] = tuple(layer.name for layer in LAYER_CLASSES)


def layer_class(name: str) -> type[Layer]:
    """The class of the layer called `name` (IsolationError for an unknown name)."""
    for layer in LAYER_CLASSES:
        if layer.name == name:
            return layer
    raise IsolationError(f"unknown isolation layer {name!r}; choose one of {', '.join(LAYERS)}")


__all__ = ["LAYERS", "LAYER_CLASSES", "IsolationError", "Launch", "Layer", "NamespacesLayer",
           "RlimitsLayer", "UidLayer", "layer_class"]
