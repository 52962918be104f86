"""pix2pix voice cloning (*clonación de voz*): a paired image-to-image GAN (notebook 04).

The thesis (THESIS.md §4) trained pix2pix on Amor scalograms (*escalogramas*) of the same sentences
spoken by a source and a target speaker, so that the generator learns to turn the source's image
into the target's. One module per question:

- :mod:`voxlib.gan.pix2pix`: what are the networks? The U-Net generator and PatchGAN
  discriminator, ``receptive_field``, the losses, ``generate`` (and its modes), ``augment_pair``.
- :mod:`voxlib.gan.train`: how is it trained? :class:`Pix2Pix` (hyperparameters, train step) and
  ``Pix2Pix(...).fit(source, target, out_dir, epochs=...)`` with checkpoints, ``losses.csv``,
  panels (:class:`Panels`) and ``train_params.json``; ``load_generator``.
- :mod:`voxlib.gan.clips`: which clips are the images made from? ``prepare_clips`` (high-pass,
  VAD, pitch conversion, DTW time maps) with its :class:`ClipSettings`; ``load_pitch_stats``.
- :mod:`voxlib.gan.envelopes`: what is a pair's WORLD envelope image (``representation="envelope"``)?
  ``write_envelope_images`` (the source's own-pitch envelope, the target's warped frame by frame by the
  DTW map, padded for the U-Net), ``frame_time_map``, and ``image_bands`` / ``bands_image`` (columns as
  mel-band dB frames).
- :mod:`voxlib.gan.pairs`: which images pair with which? ``PairedImages``, the folder and manifest
  loaders, ``split_pairs``, ``write_paired_images`` (:data:`REPRESENTATIONS`: scalograms on one fixed
  scale, :data:`SINE_SCALE`, or envelope images).
- :mod:`voxlib.gan.generated`: what does notebook 05 read? ``write_generated``, ``write_mapped``,
  the ridge and GMM baselines and the generated manifest's columns.
- :mod:`voxlib.gan.findings`: what do notebook 04's numbers say? One sentence per result (``*_finding``),
  its wording chosen by the numbers.

Arrows run pix2pix → train and clips → envelopes → pairs → generated (which also uses pix2pix's
``generate``); no module imports plotting: training panels are drawn by the function the caller passes.
"""
from voxlib.gan.clips import (CLIPS_FILE, PAIR_ALIGNMENTS, PITCH_MODES, THESIS_CLIPS, ClipSettings, GanDataError,
                              load_pitch_stats, prepare_clips)
from voxlib.gan.envelopes import (ENVELOPE_META, bands_image, envelope_image, frame_time_map, image_bands,
                                  padded_width, write_envelope_images)
from voxlib.gan.findings import (BASELINE_CANDIDATES, CHANCE_DISC_LOSS, CLOSE_PITCH_ST, SOURCE_CANDIDATE, TIE_PIXELS,
                                 TIE_RELATIVE, alignment_finding, gmm_finding, image_score_finding, loss_finding,
                                 pitch_finding)
from voxlib.gan.generated import (GENERATED_COLUMNS, GENERATED_REQUIRED, GMM_CHOICES_FILE, GMM_COMPONENTS,
                                  GMM_FEATURES, IMAGE_METRICS_FILE, RIDGE_ALPHAS, gmm_baseline, ridge_baseline,
                                  write_generated, write_image_scores, write_mapped)
from voxlib.gan.pairs import (REPRESENTATIONS, SINE_SCALE, PairedImages, alignment_l1, join_pairs, load_folder_pairs,
                              load_manifest_pairs, split_pairs, unwarped_targets, write_paired_images)
from voxlib.gan.pix2pix import (GENERATE_MODES, augment_pair, build_discriminator, build_generator,
                                discriminator_loss, generate, generator_loss, receptive_field, to_uint8, to_unit,
                                unet_depth)
from voxlib.gan.train import (GENERATOR_FILE, LOSS_COLUMNS, LOSSES_FILE, PARAMS_FILE, Panels, Pix2Pix,
                              load_generator)

__all__ = [
    # pix2pix: the networks, losses and generation
    "unet_depth", "build_generator", "build_discriminator", "receptive_field", "generator_loss",
    "discriminator_loss", "GENERATE_MODES", "generate", "augment_pair", "to_unit", "to_uint8",
    # train: the model and its resumable training
    "Pix2Pix", "Panels", "load_generator", "LOSS_COLUMNS", "PARAMS_FILE", "LOSSES_FILE", "GENERATOR_FILE",
    # clips: the clips of a pair
    "ClipSettings", "THESIS_CLIPS", "prepare_clips", "load_pitch_stats", "CLIPS_FILE", "PAIR_ALIGNMENTS",
    "PITCH_MODES", "GanDataError",
    # envelopes: the WORLD envelope images of a pair
    "write_envelope_images", "envelope_image", "frame_time_map", "padded_width", "image_bands", "bands_image",
    "ENVELOPE_META",
    # pairs: the paired images
    "PairedImages", "load_folder_pairs", "load_manifest_pairs", "split_pairs", "join_pairs", "write_paired_images",
    "unwarped_targets", "alignment_l1", "SINE_SCALE", "REPRESENTATIONS",
    # generated: what notebook 05 reads
    "write_generated", "write_mapped", "ridge_baseline", "RIDGE_ALPHAS", "gmm_baseline", "GMM_FEATURES",
    "GMM_COMPONENTS", "GMM_CHOICES_FILE", "GENERATED_COLUMNS", "GENERATED_REQUIRED", "write_image_scores",
    "IMAGE_METRICS_FILE",
    # findings: notebook 04's numbers in words
    "pitch_finding", "alignment_finding", "loss_finding", "gmm_finding", "image_score_finding", "SOURCE_CANDIDATE",
    "BASELINE_CANDIDATES", "TIE_PIXELS", "TIE_RELATIVE", "CLOSE_PITCH_ST", "CHANCE_DISC_LOSS",
]
