"""Speaker identification by transfer learning (notebook 02, THESIS §2).

The thesis took twelve Keras ImageNet networks, replaced their top by
``Dense(n_speakers, softmax)`` on the second-to-last layer's output, froze all
layers but the last five and trained with RMSprop (10 epochs, batch 10); plus a
small CNN trained from scratch. It evaluated on its training images. Here the
evaluation is on held-out utterances (the run's split), with training accuracy
beside it. Each question has its module:

* :mod:`~voxlib.transfer.networks`: which networks (:data:`NETWORKS`), their ImageNet
  weights (Keras's cache, hashes, no download while building) and how a classifier is built
  (:func:`build_model`, :func:`split_trunk`, :func:`layer_table`).
* :mod:`~voxlib.transfer.training`: images in (:func:`load_images`, :func:`prepare_images`),
  cached-trunk training (:func:`train_cached`), the seeded restarts of one built network,
  scores (:func:`score_predictions`).
* :mod:`~voxlib.transfer.classifier`: a trained classifier on disk (:class:`Classifier`,
  :func:`save_classifier`, :func:`load_classifier`) and the hand-off to notebook 05
  (:func:`load_best_classifier`, :func:`classifier_image_size`).
* :mod:`~voxlib.transfer.table`: ``sweep.csv``, its columns and key (:func:`load_sweep`).
* :mod:`~voxlib.transfer.baselines`: the non-image reference classifiers (:data:`BASELINES`).
* :mod:`~voxlib.transfer.sweep`: the sweep itself (:func:`run_sweep`, :func:`run_one` under a
  :class:`SweepSettings`), in this process or on a Dask cluster (:mod:`voxlib.cluster`).

Imports run one way: ``sweep`` uses the other five, ``classifier`` and ``baselines`` use
``table`` and ``training``, ``training`` uses ``networks``. TensorFlow and Keras are imported
lazily (``voxlib._heavy``) on first use, so ``import voxlib.transfer`` stays fast.
"""
from voxlib._heavy import keras, tf  # noqa: F401  (bench/sweep.py reaches them as transfer.keras / transfer.tf)
from voxlib.transfer.baselines import (BASELINE_TRANSFORM, BASELINES, baseline_classifier, baseline_features,
                                       is_baseline, mfcc_statistics, run_baseline)
from voxlib.transfer.classifier import (Classifier, classifier_image_size, load_best_classifier, load_classifier,
                                        save_classifier)
from voxlib.transfer.networks import (MOBILENET_V2_SHA256, NETWORKS, PREPROCESSORS, MissingWeightsError,
                                      NetworkSpec, build_model, imagenet_weights_path, keras_cache_dir, layer_table,
                                      split_trunk)
from voxlib.transfer.sweep import SweepSettings, run_one, run_sweep
from voxlib.transfer.table import SWEEP_COLUMNS, load_sweep
from voxlib.transfer.training import (extract_features, fit_model, load_images, prepare_images,
                                      score_predictions, train_cached)

__all__ = [
    "NETWORKS",
    "PREPROCESSORS",
    "SWEEP_COLUMNS",
    "NetworkSpec",
    "MissingWeightsError",
    "Classifier",
    "SweepSettings",
    "keras_cache_dir",
    "imagenet_weights_path",
    "build_model",
    "split_trunk",
    "prepare_images",
    "load_images",
    "extract_features",
    "fit_model",
    "train_cached",
    "score_predictions",
    "run_one",
    "run_sweep",
    "BASELINES",
    "BASELINE_TRANSFORM",
    "is_baseline",
    "mfcc_statistics",
    "baseline_features",
    "baseline_classifier",
    "run_baseline",
    "layer_table",
    "load_sweep",
    "save_classifier",
    "load_classifier",
    "load_best_classifier",
    "classifier_image_size",
    "MOBILENET_V2_SHA256",
]
