"""Generated scalograms and envelopes back to sound, and the numbers that judge them (notebook 05).

Each module answers one question; arrows run from the later to the earlier
(``commentary`` → ``measures`` → ``judges`` → ``conditions`` → ``content``, ``phase``, ``synthesis``):

- :mod:`~voxlib.reconstruction.phase`: how does an image become sound? Image → CWT magnitude
  (:func:`image_to_magnitude`), a borrowed and optionally refined phase (:func:`reconstruct`,
  :class:`ConsistentCWT`, :func:`refine_phase`), and the oracles (:func:`oracle`,
  :func:`quality_vs_width`);
- :mod:`~voxlib.reconstruction.synthesis`: how does a converted envelope become sound? WORLD synthesis or the
  envelope-ratio filter (:class:`SynthesisSettings`, :func:`render`), with F0, aperiodicity and global-variance
  statistics fitted on the training clips (:func:`fit_statistics`), and WORLD copy-synthesis (:func:`copy_synthesis`);
- :mod:`~voxlib.reconstruction.conditions`: which clips does each generated sentence become?
  Notebook 04's manifest (:func:`load_generated`, :func:`wavelet_of`, :func:`load_aligned`), the
  :data:`CONDITIONS` and the channel control (:func:`channel_control`), written as WAVs
  (:func:`write_reconstructions`, :func:`width_study`);
- :mod:`~voxlib.reconstruction.content`: does a clip still say its sentence? The content check
  (:func:`content_check`: MFCC-DTW against the real recordings of every held-out sentence), its
  content-destroying control (:func:`scramble`) and its settings chosen on training sentences
  (:func:`choose_content_check`);
- :mod:`~voxlib.reconstruction.judges`: who says a clip is the target's voice? The judges (:data:`JUDGES`:
  CAM++ verification, the d-vector for comparison, the content check; :func:`fit_judges`), their
  acceptance rates (:func:`acceptance`), the control and calibration rule (:func:`control_check`) and
  notebook 02's classifier (:func:`classify_audio`);
- :mod:`~voxlib.reconstruction.measures`: how close is each clip, and which phase mode or synthesis? The metrics
  table (:func:`measure`) and its summaries, :func:`phase_study` / :func:`choose_phase` /
  :func:`resolve_phase_mode`, :func:`chosen_phase_mode`, :func:`synthesis_study` / :func:`choose_synthesis` /
  :func:`resolve_synthesis`, and notebook 05's tables as files (:func:`write_table`);
- :mod:`~voxlib.reconstruction.commentary`: what do the numbers say? The verdict (:func:`verdict`, opening
  with its :func:`finding`), the finding after each of notebook 05's results (``*_finding``), its thresholds named.

:class:`ReconstructionError` (:mod:`~voxlib.reconstruction.errors`) is what every module raises for
bad input, naming the notebook that makes it.
"""
from voxlib.reconstruction import commentary, conditions, errors, judges, measures, phase, synthesis
from voxlib.reconstruction.conditions import (CONDITIONS, DEFAULT_TRANSFORM, DIGITAL_SILENCE_DB, ENVELOPE_CONDITIONS,
                                              PHASE_CONDITIONS, QUIET_SHARE, SAME_TIMING, SYNTHESES, channel_control,
                                              frequency_limits_of, load_aligned, load_generated, noise_floor_db,
                                              noise_frames, representation_of, wavelet_of, width_study,
                                              write_reconstructions)
from voxlib.reconstruction.content import (CONTENT_OPTIONS, SCRAMBLE_CHUNK_SECONDS, ContentCheck,
                                           choose_content_check, content_check, content_costs, content_features,
                                           scramble)
from voxlib.reconstruction.errors import PRODUCERS, ReconstructionError
from voxlib.reconstruction.judges import (CALIBRATION_MAX_EER, CONTENT_CONTROLS, CONTROL_MAX_RATE, CONTROLS,
                                          JUDGE_CONTROLS, JUDGE_ENCODERS, JUDGES, PRIMARY_JUDGE, SpeakerJudges,
                                          TrainingClips, acceptance, acceptance_table, classifier_images,
                                          classify_audio, control_check, fit_judges, training_clips)
from voxlib.reconstruction.measures import (MEASURE_HIGHPASS_HZ, MIN_VOICED_SHARE, SIMILARITIES, SIMILARITY_NOISE,
                                            SOURCE_SETTING, TABLES, choose_phase, choose_synthesis, chosen_phase_mode,
                                            measure, phase_study, resolve_phase_mode, resolve_synthesis,
                                            sentence_table, similarity_intervals, summarize_conditions,
                                            synthesis_study, write_table)
from voxlib.reconstruction.phase import (CONFIDENT_DB, COVERAGE, PHASE_MODES, ConsistentCWT, apply_phase,
                                         image_round_trip, image_to_magnitude, inconsistency, oracle,
                                         quality_vs_width, reconstruct, refine_phase)
from voxlib.reconstruction.synthesis import (APERIODICITY_MODES, CHOICE_FILE, DEFAULT_SYNTHESIS, FILTER_WINDOW_MS,
                                             SPEECH_TOP_DB, SYNTHESIS_CANDIDATES, SYNTHESIS_MODES, AnalysedClip,
                                             SynthesisSettings, SynthesisStats, chosen_synthesis, convert_aperiodicity,
                                             copy_synthesis, fit_statistics, flat_envelope, global_variance,
                                             read_envelope, render)
from voxlib.reconstruction.commentary import (MAJORITY_RATE, PIPELINE_SNR_DB, RELIABLE_JUDGE_RATE, TIE_DB, WIDTH_MEASURES,
                                              acceptance_finding, choice_finding, finding, judges_finding,
                                              sentence_finding, similarity_finding, summary_finding, verdict,
                                              width_finding, width_summary)

#: Every public name of the submodules (each lists its own in ``__all__``).
__all__ = [*errors.__all__, *phase.__all__, *synthesis.__all__, *conditions.__all__, *content.__all__, *judges.__all__, *measures.__all__,
           *commentary.__all__]
