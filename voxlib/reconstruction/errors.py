"""What a bad input to the reconstruction raises, and which notebook makes each input it reads."""
from __future__ import annotations

__all__ = ["ReconstructionError", "PRODUCERS"]

PRODUCERS = {  # what makes each input, named in error messages
    "generated": "notebook 04 (04_gan_cloning.ipynb, voxlib.gan) writes "
                 "<run_dir>/cloning/<source>__<target>/generated/manifest.csv",
    "image": "notebook 01 (01_transforms.ipynb, voxlib.images.write_images) and notebook 04 "
             "(voxlib.gan) store the image scale in the PNG text chunk; re-run the notebook "
             "that made the image",
}


class ReconstructionError(ValueError):
    """Bad input to the reconstruction; the message names the file or parameter and the fix."""
