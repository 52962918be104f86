"""voxlib: speaker classification and voice cloning from time-frequency images.

A runnable reproduction of the thesis "Clasificación y Clonación de voz". One
module per stage: ``audio``, ``datasets``, ``transforms``, ``images``,
``transfer``, ``gan``, ``reconstruction``, ``metrics``, ``plots``, ``run``.
Modules are imported on demand (``from voxlib import transforms``) so that
the light ones never pay for TensorFlow.
"""
__version__ = "0.1.0"
