"""Fixtures of the voxlib.reconstruction tests: real speech of the embedded corpus, the oracle manifests (CWT
scalograms, and WORLD envelope images with their synthesis statistics), the stand-in classifier and the judges
(session-scoped: the tests only read them)."""
from __future__ import annotations

import pandas as pd
import pytest

from reconstruction_fakes import (ALIGN, SOURCE, SR, TARGET, TEST_UTTS, TRAIN_UTTS, NearestCentroid, envelope_manifest,
                                  oracle_manifest)
from voxlib import audio
from voxlib import reconstruction as R


@pytest.fixture(scope="session")
def clip(embedded_root):
    """Real speech: July (es-CO, 8 kHz) saying one prompt, VAD-aligned to 3 s."""
    return audio.vad_align(audio.load(embedded_root / "es-co_july" / "agent-loggedoff.flac", sr=SR)[0],
                           SR, **ALIGN)


@pytest.fixture(scope="session")
def corpus(embedded_root):
    """Real speech: the same prompts said by Allison (es-MX, the source) and July (es-CO, the target)."""
    return pd.DataFrame([{"path": embedded_root / sp / f"{u}.flac", "speaker": sp, "utterance": u}
                         for sp in (SOURCE, TARGET) for u in TEST_UTTS + TRAIN_UTTS])


@pytest.fixture(scope="session")
def generated(corpus, tmp_path_factory):
    return oracle_manifest(corpus, tmp_path_factory.mktemp("run"), "amor")


@pytest.fixture(scope="session")
def classifier(corpus):
    """Trained on other sentences than the ones measured."""
    train = corpus[corpus["utterance"].isin(TRAIN_UTTS)]
    return NearestCentroid({sp: [audio.load(p, sr=SR)[0] for p in g["path"]] for sp, g in train.groupby("speaker")})


@pytest.fixture(scope="session")
def judges(corpus):
    """The judges fitted on the training sentences' aligned clips (other sentences than measured)."""
    train = corpus[corpus["utterance"].isin(TRAIN_UTTS)]
    clips = {sp: {str(r["utterance"]): R.load_aligned(r["path"], SR, **ALIGN) for _, r in g.iterrows()}
             for sp, g in train.groupby("speaker")}
    return R.fit_judges(R.TrainingClips(source=clips[SOURCE], target=clips[TARGET], sr=SR), target=TARGET,
                        source=SOURCE)


@pytest.fixture(scope="session")
def envelope_generated(corpus, tmp_path_factory):
    """Notebook 04's envelope manifest whose 'generated' envelope is the target's own: the test sentences held
    out, two training sentences."""
    splits = {**{u: "test" for u in TEST_UTTS}, **{u: "train" for u in TRAIN_UTTS[:2]}}
    return envelope_manifest(corpus, tmp_path_factory.mktemp("envelope"), splits)


@pytest.fixture(scope="session")
def envelope_statistics(envelope_generated):
    """The synthesis statistics fitted on that manifest's training clips."""
    return R.fit_statistics(R.training_clips(R.load_generated(envelope_generated)))
