"""voxlib._heavy: heavy packages load on first use, and in an order that works."""
from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_importing_the_stages_loads_no_tensorflow_and_a_plot_does_not_either():
    code = ("import sys, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt, numpy as np\n"
            "import voxlib.gan, voxlib.transfer, voxlib.reconstruction, voxlib.plots\n"
            "plt.imshow(np.zeros((4, 4)))\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    assert _run(code) == "False False"


def test_tensorflow_first_still_gives_a_complete_keras():
    code = ("from voxlib._heavy import keras, tf\n"
            "tf.constant(1.0)\n"
            "print(hasattr(keras, 'Input'), keras.loaded, tf.loaded)")
    assert _run(code) == "True True True"


def test_a_missing_optional_package_names_the_fix():
    from voxlib._heavy import Heavy

    ghost = Heavy("voxlib_no_such_package", hint="pip install it")
    try:
        ghost.anything
    except ImportError as exc:
        assert "voxlib_no_such_package" in str(exc) and "pip install it" in str(exc)
    else:
        raise AssertionError("a missing package must raise ImportError")
    assert not ghost.loaded
