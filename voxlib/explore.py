"""Interactive explorers for notebooks 01 and 05 (ipywidgets), with a static fallback.

Each explorer is a row of drop-downs above a few *output slots* (a caption,
audio players, figures, a table). Displaying it (the last expression of a
cell, or :meth:`show`) draws the widgets and then each slot as an ordinary
output through an IPython display handle (``display(obj, display_id=True)``);
a change of selection re-renders the slots and updates those same handles.

- In JupyterLab the outputs change in place when a drop-down changes.
- Under papermill (no front end) nobody moves a drop-down: the executed
  notebook keeps the default selection as static outputs (PNG figures, audio
  players with their WAV embedded, HTML tables), so a notebook exported to HTML
  still shows and plays it. Only the drop-downs need a live kernel.

Without IPython at all, :meth:`render` still computes a selection's outputs
(returned and kept in ``outputs``), which is how the tests drive the explorers.

- :func:`transforms_explorer` (notebook 01): a speaker, an utterance and a
  transform → that image with axes in seconds and hertz, the audio player and
  all the transforms of the utterance side by side.
- :func:`reconstruction_explorer` (notebook 05): a pair and a held-out sentence
  → players for every condition (source, target, converted, oracles, controls),
  their scalograms and the sentence's rows of the metrics table, read from the
  files notebook 05 saved (``<run_dir>/reconstruction/<source>__<target>/``).
"""
from __future__ import annotations

import io
from collections import OrderedDict
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, Audio, Image, display

from voxlib import audio, plots, reconstruction
from voxlib import transforms as T
from voxlib.datasets import load_manifest

__all__ = [
    "ExploreError",
    "TransformsExplorer",
    "transforms_explorer",
    "ReconstructionExplorer",
    "reconstruction_explorer",
    "reconstruction_pairs",
    "KEY_CONDITIONS",
]

#: The conditions notebook 05's explorer draws as scalograms by default (``"converted"`` stands for the
#: converted condition of the phase mode the pair used): the voices, the oracles and the controls.
KEY_CONDITIONS = ("source", "target", "converted", "oracle_source_phase", "oracle_refined", "oracle_own",
                  "null_flat", "control_channel")

_CACHE_SIZE = 8   # utterances (notebook 01) or sentences (notebook 05) whose rendering is kept
_DPI = 80         # resolution of the PNG figures embedded in the notebook


class ExploreError(ValueError):
    """A selection or input the explorers cannot use; the message names the parameter and the fix."""


def _choose(name, value, options, where):
    """``value`` if it is one of ``options``, else an error naming parameter ``name`` (internal)."""
    if value not in options:
        shown = ", ".join(map(str, list(options)[:12])) + (", ..." if len(options) > 12 else "")
        raise ExploreError(f"{name}={value!r} is not {where}; choose one of: {shown}")
    return value


def _figure_image(fig, *, size=None) -> Image:
    """A figure as an embedded PNG; the figure is closed (pyplot forgets it, so no leak and no
    second copy shown by the inline backend at the end of the cell) (internal)."""
    if size is not None:
        fig.set_size_inches(*size)
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    plt.close(fig)
    return Image(data=buf.getvalue(), format="png")


class _Explorer:
    """Widgets above output slots shown through display handles (base class, internal)."""

    slots: tuple = ()

    def __init__(self):
        self.outputs = {}     # slot -> the object last rendered into it
        self.figures = {}     # slot -> the (closed) matplotlib figure behind a PNG slot
        self.ui = widgets.HBox([])
        self._handles = []    # one dict slot -> DisplayHandle per show()
        self._busy = False    # True while the widgets are moved by code (no callback)

    def show(self) -> None:
        """Display the widgets, then each slot as an output that later selections update.

        Renders the current selection first if nothing was rendered yet. Without
        an IPython shell ``display`` only prints, and nothing is updated later.
        """
        if not self.outputs:
            self.render()
        display(self.ui)
        handles = {slot: display(self.outputs[slot], display_id=True) for slot in self.slots}
        self._handles.append({slot: h for slot, h in handles.items() if h is not None})

    def _ipython_display_(self):
        self.show()

    def _publish(self, outputs: dict) -> dict:
        """Keep ``outputs`` and push them into every displayed copy of their slots (internal)."""
        self.outputs.update(outputs)
        for handles in self._handles:
            for slot, obj in outputs.items():
                if slot in handles:
                    handles[slot].update(obj)
        return dict(self.outputs)

    def _on_change(self, change) -> None:
        if not self._busy:
            self.render()

    def _set_widget(self, widget, *, value, options=None) -> None:
        """Move a widget without triggering a render (internal)."""
        self._busy = True
        try:
            if options is not None:
                widget.options = options
            widget.value = value
        finally:
            self._busy = False

    def render(self) -> dict:  # pragma: no cover - implemented by the subclasses
        raise NotImplementedError


# --------------------------------------------------------------------------
# Notebook 01: one utterance through every transform
# --------------------------------------------------------------------------
class TransformsExplorer(_Explorer):
    """Notebook 01's explorer; build it with :func:`transforms_explorer`.

    Attributes
    ----------
    speaker, utterance, transform : ipywidgets.Dropdown
        The selection; changing one re-renders the outputs.
    ui : ipywidgets.HBox
        The three drop-downs.
    outputs : dict
        The last rendering, by slot: ``"caption"`` (HTML), ``"audio"``
        (``IPython.display.Audio``), ``"image"`` (PNG of the chosen transform),
        ``"all"`` (PNG of every transform side by side).
    figures : dict
        The matplotlib figures behind ``"image"`` and ``"all"`` (closed).
    """

    slots = ("caption", "audio", "image", "all")

    def __init__(self, corpus, transforms, *, sr, speaker, utterance, transform, aligned, align_duration,
                 align_lead):
        super().__init__()
        self.corpus = corpus
        self.transforms = list(transforms)
        self.sr = int(sr)
        self.aligned = bool(aligned)
        self.align = {"duration": float(align_duration), "lead": float(align_lead)}
        self._signals = OrderedDict()   # (speaker, utterance) -> (y, {name: TimeFrequency}, all-figure PNG)
        self._rendered = None
        speakers = sorted(corpus["speaker"].unique())
        self.speaker = widgets.Dropdown(options=speakers, value=speaker, description="speaker")
        self.utterance = widgets.Dropdown(options=self._utterance_options(speaker), value=utterance,
                                          description="utterance")
        self.transform = widgets.Dropdown(options=self.transforms, value=transform, description="transform")
        self.speaker.observe(self._on_speaker, names="value")
        self.utterance.observe(self._on_change, names="value")
        self.transform.observe(self._on_change, names="value")
        self.ui = widgets.HBox([self.speaker, self.utterance, self.transform])

    def _utterance_options(self, speaker) -> list:
        rows = self.corpus[self.corpus["speaker"] == speaker].sort_values("utterance")
        held_out = rows["split"].eq("test") if "split" in rows.columns else pd.Series(False, index=rows.index)
        return [(f"{u} (held out)" if h else u, u) for u, h in zip(rows["utterance"], held_out)]

    def _on_speaker(self, change) -> None:
        if self._busy:
            return
        options = self._utterance_options(change["new"])
        keep = self.utterance.value if self.utterance.value in [v for _, v in options] else options[0][1]
        self._set_widget(self.utterance, value=keep, options=options)
        self.render()

    @property
    def selection(self) -> dict:
        """The current ``speaker``, ``utterance`` and ``transform``."""
        return {"speaker": self.speaker.value, "utterance": self.utterance.value,
                "transform": self.transform.value}

    def _signal(self, speaker, utterance):
        """The clip, its transforms and the all-transforms figure, cached (internal)."""
        key = (speaker, utterance)
        if key not in self._signals:
            row = self.corpus[(self.corpus["speaker"] == speaker) & (self.corpus["utterance"] == utterance)].iloc[0]
            y, sr = audio.load(row["path"], sr=self.sr)
            if self.aligned:
                y = audio.vad_align(y, sr, **self.align)
            tfs = {name: T.compute(y, sr, name) for name in self.transforms}
            fig = plots.plot_transforms(tfs, ncols=min(3, len(tfs)), title=f"{speaker}/{utterance}: every transform")
            self._signals[key] = (y, tfs, _figure_image(fig), fig)
            while len(self._signals) > _CACHE_SIZE:
                self._signals.popitem(last=False)
        self._signals.move_to_end(key)
        return self._signals[key]

    def render(self, speaker=None, utterance=None, transform=None) -> dict:
        """Render a selection (``None``: the widget's current value) and update the displayed outputs.

        The widgets move to the selection. Returns ``outputs`` (see the class).
        Raises :class:`ExploreError` naming ``speaker``, ``utterance`` or
        ``transform`` when one is not in the corpus or the transforms.
        """
        current = self.selection
        speaker = _choose("speaker", current["speaker"] if speaker is None else speaker,
                          list(self.speaker.options), "a speaker of corpus")
        valid = [v for _, v in self._utterance_options(speaker)]
        if utterance is None:
            utterance = current["utterance"] if current["utterance"] in valid else valid[0]
        utterance = _choose("utterance", utterance, valid, f"an accepted recording of {speaker!r} in corpus")
        transform = _choose("transform", current["transform"] if transform is None else transform,
                            self.transforms, "one of the explorer's transforms")
        if speaker != self.speaker.value:
            self._set_widget(self.speaker, value=speaker)
        if utterance != self.utterance.value or speaker != current["speaker"]:
            self._set_widget(self.utterance, value=utterance, options=self._utterance_options(speaker))
        if transform != self.transform.value:
            self._set_widget(self.transform, value=transform)

        y, tfs, all_png, all_fig = self._signal(speaker, utterance)
        title = f"{speaker}/{utterance} · {transform}"
        fig = plots.plot_transforms({transform: tfs[transform]}, ncols=1, title=title)
        self.figures["image"] = fig
        self.figures["all"] = all_fig
        out = {"caption": HTML(f"<b>{speaker}/{utterance}</b> · {transform} · {y.size / self.sr:.2f} s at "
                               f"{self.sr} Hz"),
               "image": _figure_image(fig, size=(9.0, 3.6))}
        if self._rendered != (speaker, utterance):
            out.update({"audio": Audio(y, rate=self.sr), "all": all_png})
            self._rendered = (speaker, utterance)
        return self._publish(out)


def transforms_explorer(corpus, transforms=None, *, sr=8000, speaker=None, utterance=None, transform=None,
                        aligned=False, align_duration=3.0, align_lead=0.5) -> TransformsExplorer:
    """Pick a speaker, an utterance and a transform; see and hear them (notebook 01).

    Display the returned object (last expression of a cell) to draw the
    drop-downs and, below them, the selection: a caption, the audio player, the
    chosen transform with time (s) and frequency (Hz) axes
    (:func:`voxlib.plots.plot_transforms`) and every transform of the utterance
    side by side. Without a front end (papermill) the default selection stays
    as static output.

    Parameters
    ----------
    corpus : pd.DataFrame
        Recordings with columns ``speaker``, ``utterance``, ``path`` (notebook
        01's accepted ``corpus``; a ``split`` column marks held-out utterances).
    transforms : sequence of str or None
        Names of :data:`voxlib.transforms.TRANSFORMS`; ``None``: all six.
    sr : int > 0
        Sample rate every clip is loaded at, Hz.
    speaker, utterance, transform : str or None
        The default selection; ``None``: the first speaker (sorted), its first
        utterance, the first transform.
    aligned : bool
        VAD-align each clip first (:func:`voxlib.audio.vad_align`), as notebook 01's ``aligned``.
    align_duration, align_lead : float
        Length of an aligned clip and silence before its speech, s.

    Returns
    -------
    TransformsExplorer
        With the widgets and :meth:`~TransformsExplorer.render`.

    Raises
    ------
    ExploreError
        A missing column, an unknown transform, or a default ``speaker`` /
        ``utterance`` / ``transform`` that is not there (the message names it).
    """
    if not isinstance(corpus, pd.DataFrame):
        raise ExploreError(f"corpus must be a DataFrame (notebook 01's `corpus`), got {type(corpus).__name__}")
    missing = [c for c in ("speaker", "utterance", "path") if c not in corpus.columns]
    if missing:
        raise ExploreError(f"corpus lacks column(s) {missing}; pass notebook 01's `corpus` "
                           f"(voxlib.datasets.discover, then screen)")
    if corpus.empty:
        raise ExploreError("corpus is empty: no accepted recording to explore")
    transforms = list(T.TRANSFORMS) if transforms is None else list(transforms)
    if not transforms:
        raise ExploreError("transforms is empty; pass names from voxlib.transforms.TRANSFORMS")
    for name in transforms:
        _choose("transforms", name, list(T.TRANSFORMS), "a transform of voxlib.transforms.TRANSFORMS")
    speakers = sorted(corpus["speaker"].unique())
    speaker = _choose("speaker", speakers[0] if speaker is None else str(speaker), speakers, "a speaker of corpus")
    valid = sorted(corpus.loc[corpus["speaker"] == speaker, "utterance"])
    utterance = _choose("utterance", valid[0] if utterance is None else str(utterance), valid,
                        f"an accepted recording of {speaker!r} in corpus")
    transform = _choose("transform", transforms[0] if transform is None else str(transform), transforms,
                        "one of transforms")
    explorer = TransformsExplorer(corpus.reset_index(drop=True), transforms, sr=sr, speaker=speaker,
                                  utterance=utterance, transform=transform, aligned=aligned,
                                  align_duration=align_duration, align_lead=align_lead)
    explorer.render()
    return explorer


# --------------------------------------------------------------------------
# Notebook 05: one held-out sentence through every condition
# --------------------------------------------------------------------------
def reconstruction_pairs(run_dir) -> list:
    """The pairs ``"<source>__<target>"`` whose reconstruction folder holds notebook 05's tables, sorted.

    A pair counts when ``<run_dir>/reconstruction/<pair>/`` has both
    ``reconstructions.csv`` and ``metrics.csv``.
    """
    root = Path(run_dir) / "reconstruction"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if (p / "reconstructions.csv").is_file() and (p / "metrics.csv").is_file())


def _pair_name(pair) -> str:
    if isinstance(pair, (tuple, list)):
        if len(pair) != 2:
            raise ExploreError(f"pair={pair!r}: give (source, target) or 'source__target'")
        return f"{pair[0]}__{pair[1]}"
    return str(pair)


class ReconstructionExplorer(_Explorer):
    """Notebook 05's explorer; build it with :func:`reconstruction_explorer`.

    Attributes
    ----------
    pair, utterance : ipywidgets.Dropdown
        The selection (pairs with saved reconstructions; the pair's held-out
        sentences); changing one re-renders the outputs.
    ui : ipywidgets.HBox
        The two drop-downs.
    outputs : dict
        The last rendering, by slot: ``"caption"`` (HTML), ``"players"`` (HTML
        table, one embedded audio player per condition), ``"scalograms"``
        (PNG), ``"metrics"`` (the sentence's rows of ``metrics.csv``, one per
        condition).
    players : dict
        Condition -> ``IPython.display.Audio`` of the last rendering.
    figures : dict
        The matplotlib figure behind ``"scalograms"`` (closed).
    """

    slots = ("caption", "players", "scalograms", "metrics")

    def __init__(self, run_dir, pairs, *, pair, utterance, converted, scalograms, transform, tables=None):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.players = {}
        self._pairs = list(pairs)
        self._converted = {} if converted is None else {pair: converted}   # the given pair only
        self._scalograms = tuple(scalograms)
        self._transform = transform
        self._tables = dict(tables or {})
        self._cache = OrderedDict()   # (pair, utterance) -> (players, scalogram PNG, figure, caption)
        self.pair = widgets.Dropdown(options=pairs, value=pair, description="pair")
        self.utterance = widgets.Dropdown(options=self._utterance_options(pair), value=utterance,
                                          description="sentence")
        self.pair.observe(self._on_pair, names="value")
        self.utterance.observe(self._on_change, names="value")
        self.ui = widgets.HBox([self.pair, self.utterance])

    # --- the saved tables of one pair ---
    def tables(self, pair) -> dict:
        """The saved tables of ``pair`` (cached): ``recon``, ``metrics``, ``converted``, ``transform``."""
        pair = _choose("pair", _pair_name(pair), self._pairs,
                       f"a pair with reconstructions in {self.run_dir / 'reconstruction'}")
        if pair not in self._tables:
            self._tables[pair] = _load_pair(self.run_dir, pair, converted=self._converted.get(pair),
                                            transform=self._transform)
        return self._tables[pair]

    def _utterance_options(self, pair) -> list:
        return self.tables(pair)["sentences"]

    def _on_pair(self, change) -> None:
        if self._busy:
            return
        options = self._utterance_options(change["new"])
        keep = self.utterance.value if self.utterance.value in options else options[0]
        self._set_widget(self.utterance, value=keep, options=options)
        self.render()

    @property
    def selection(self) -> dict:
        """The current ``pair`` and ``utterance``."""
        return {"pair": self.pair.value, "utterance": self.utterance.value}

    def _sentence(self, pair, utterance):
        """Players, scalograms and caption of one sentence, cached (internal)."""
        key = (pair, utterance)
        if key not in self._cache:
            t = self.tables(pair)
            clips = t["recon"][t["recon"]["utterance"] == utterance].set_index("condition")
            order = [c for c in reconstruction.CONDITIONS if c in clips.index]
            order += [c for c in clips.index if c not in order]
            players = {c: Audio(filename=str(clips.loc[c, "path"])) for c in order}
            rows = "".join(f"<tr><td><b>{c}</b></td><td>{reconstruction.CONDITIONS.get(c, '')}</td>"
                           f"<td>{players[c]._repr_html_()}</td></tr>" for c in order)
            table = HTML(f"<table><tr><th>condition</th><th>what it is</th><th>listen</th></tr>{rows}</table>")
            wanted = [t["converted"] if c == "converted" else c for c in self._scalograms]
            drawn = [c for c in dict.fromkeys(wanted) if c in clips.index]
            transform = t["transform"].get(utterance, reconstruction.DEFAULT_TRANSFORM)
            tfs = {}
            for c in drawn:
                y, sr = audio.load(clips.loc[c, "path"])
                tfs[c] = T.compute(y, sr, transform)
            fig = plots.plot_transforms(tfs, ncols=min(4, len(tfs)),
                                        title=f"{pair} · {utterance}: scalograms ({transform})")
            caption = HTML(f"<b>{pair}</b> · held-out sentence <b>{utterance}</b> · converted condition "
                           f"<code>{t['converted']}</code> · scalograms with {transform}")
            self._cache[key] = (players, table, _figure_image(fig), fig, caption)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def render(self, pair=None, utterance=None) -> dict:
        """Render a selection (``None``: the widget's current value) and update the displayed outputs.

        The widgets move to the selection. Returns ``outputs`` (see the class).
        Raises :class:`ExploreError` naming ``pair`` or ``utterance`` when the
        run has no reconstructions of that pair or the pair no such held-out sentence.
        """
        current = self.selection
        pair = _choose("pair", current["pair"] if pair is None else _pair_name(pair), list(self.pair.options),
                       f"a pair with reconstructions in {self.run_dir / 'reconstruction'}")
        valid = self._utterance_options(pair)
        if utterance is None:
            utterance = current["utterance"] if current["utterance"] in valid else valid[0]
        utterance = _choose("utterance", utterance, valid, f"a held-out sentence of {pair}")
        if pair != self.pair.value:
            self._set_widget(self.pair, value=pair)
        if utterance != self.utterance.value or pair != current["pair"]:
            self._set_widget(self.utterance, value=utterance, options=valid)

        players, table, png, fig, caption = self._sentence(pair, utterance)
        self.players = players
        self.figures["scalograms"] = fig
        metrics = self.tables(pair)["metrics"]
        return self._publish({"caption": caption, "players": table, "scalograms": png,
                              "metrics": metrics[metrics["utterance"] == utterance].round(3)})


def _load_pair(run_dir, pair, *, converted, transform) -> dict:
    """Read one pair's saved tables (internal): see :meth:`ReconstructionExplorer.tables`."""
    folder = Path(run_dir) / "reconstruction" / pair
    try:
        recon = load_manifest(folder / "reconstructions.csv", required=["utterance", "condition", "path"],
                              producer="notebook 05 (05_reconstruction.ipynb) for this pair")
    except ValueError as err:
        raise ExploreError(f"pair={pair!r}: {err}") from err
    metrics = pd.read_csv(folder / "metrics.csv")
    if "utterance" not in metrics.columns or "condition" not in metrics.columns:
        raise ExploreError(f"pair={pair!r}: {folder / 'metrics.csv'} lacks utterance/condition columns; "
                           f"rerun notebook 05 for this pair")
    held_out = recon["split"].eq("test") if "split" in recon.columns else pd.Series(False, index=recon.index)
    sentences = sorted(recon.loc[held_out, "utterance"].unique()) or sorted(recon["utterance"].unique())
    order = {c: i for i, c in enumerate(reconstruction.CONDITIONS)}
    metrics = (metrics.drop(columns=[c for c in ("source_speaker", "target_speaker") if c in metrics.columns])
               .assign(_order=lambda d: d["condition"].map(order).fillna(len(order)))
               .sort_values(["utterance", "_order"], kind="stable").drop(columns="_order")
               .set_index("condition"))
    if converted is None:
        converted = reconstruction.PHASE_CONDITIONS.get(reconstruction.chosen_phase_mode(folder), "converted")
    generated = Path(run_dir) / "cloning" / pair / "generated" / "manifest.csv"
    if transform is not None:
        per_sentence = {u: transform for u in recon["utterance"].unique()}
    elif generated.is_file():
        g = pd.read_csv(generated)
        per_sentence = dict(zip(g["utterance"], g["transform"])) if "transform" in g.columns else {}
    else:
        per_sentence = {}
    return {"recon": recon, "metrics": metrics, "sentences": sentences, "converted": converted,
            "transform": per_sentence}


def reconstruction_explorer(run_dir, pair=None, utterance=None, *, converted=None, scalograms=KEY_CONDITIONS,
                            transform=None) -> ReconstructionExplorer:
    """Pick a pair and a held-out sentence; hear and see every condition (notebook 05).

    Display the returned object (last expression of a cell) to draw the
    drop-downs and, below them, the selection: a caption, one audio player per
    condition (source, target, converted, the oracles and the controls, each
    with what it is, :data:`voxlib.reconstruction.CONDITIONS`), their
    scalograms and the sentence's rows of the metrics table. Everything is read
    from the files notebook 05 saved in ``<run_dir>/reconstruction/<pair>/``
    (``reconstructions.csv``, ``metrics.csv``, ``phase_choice.csv``), so every
    pair of the run can be picked, not only the notebook's own. Without a front
    end (papermill) the default selection stays as static output.

    Parameters
    ----------
    run_dir : path
        The run folder (notebook 05's ``run_dir``).
    pair : (str, str), str or None
        ``(source, target)`` or ``"source__target"``; ``None``: the first pair
        of :func:`reconstruction_pairs`.
    utterance : str or None
        The default sentence; ``None``: the pair's first held-out sentence
        (``split == "test"``; every sentence if none is marked held out).
    converted : str or None
        The converted condition of ``pair`` (notebook 05's ``converted``, which
        ``phase_mode`` may have set by hand), drawn for ``"converted"`` in
        ``scalograms``; ``None``, and for every other pair: the condition of the
        phase mode that pair's ``phase_choice.csv`` marks chosen.
    scalograms : sequence of str
        Conditions drawn as scalograms (those the sentence has); ``"converted"``
        stands for ``converted``.
    transform : str or None
        The CWT of the scalograms; ``None``: the generated manifest's ``transform``
        (``<run_dir>/cloning/<pair>/generated/manifest.csv``), else
        :data:`voxlib.reconstruction.DEFAULT_TRANSFORM`.

    Returns
    -------
    ReconstructionExplorer
        With the widgets and :meth:`~ReconstructionExplorer.render`.

    Raises
    ------
    ExploreError
        No saved reconstructions in ``run_dir``, or an unknown ``pair``,
        ``utterance``, ``converted`` or ``transform`` (the message names it).
    """
    pairs = reconstruction_pairs(run_dir)
    if not pairs:
        raise ExploreError(f"run_dir={str(run_dir)!r} has no reconstruction/<source>__<target>/ folder with "
                           f"reconstructions.csv and metrics.csv; run notebook 05 first")
    pair = _choose("pair", pairs[0] if pair is None else _pair_name(pair), pairs,
                   f"a pair with reconstructions in {Path(run_dir) / 'reconstruction'}")
    if converted is not None:
        _choose("converted", converted, list(reconstruction.PHASE_CONDITIONS.values()),
                "a converted condition of voxlib.reconstruction.PHASE_CONDITIONS")
    if transform is not None:
        _choose("transform", transform, [n for n, s in T.TRANSFORMS.items() if s.kind == "cwt"],
                "a CWT of voxlib.transforms.TRANSFORMS")
    first = _load_pair(run_dir, pair, converted=converted, transform=transform)
    utterance = _choose("utterance", first["sentences"][0] if utterance is None else str(utterance),
                        first["sentences"], f"a held-out sentence of {pair}")
    explorer = ReconstructionExplorer(run_dir, pairs, pair=pair, utterance=utterance, converted=converted,
                                      scalograms=scalograms, transform=transform, tables={pair: first})
    explorer.render()
    return explorer
