"""The paper's metrics on a data set's held-out split, and the PCA+MLP baseline."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..data.labels import FAMILIES, SILENT
from ..data.store import Dataset
from ..errors import GlissandoError
from ..models.modelfile import LoadedModel
from ..models.vae import CrossModalVAE, gaussian_nll
from .arrays import SplitArrays, label_matrix, split_arrays


def itakura_saito(log_target: torch.Tensor, log_estimate: torch.Tensor) -> torch.Tensor:
    """Itakura-Saito divergence between power spectra given as log magnitudes, mean over bins."""
    ratio = torch.exp(2 * (log_target - log_estimate))
    return (ratio - 2 * (log_target - log_estimate) - 1).mean(-1)


@torch.no_grad()
def _signal_metrics(model: CrossModalVAE, x_norm: torch.Tensor, z: torch.Tensor) -> dict:
    mean, logvar = model.decode_signal(z)
    ll = -gaussian_nll(x_norm, mean, logvar)
    isd = itakura_saito(model.denormalize(x_norm), model.denormalize(mean))
    return {"log_likelihood": float(ll.mean()), "itakura_saito": float(isd.mean())}


def _accuracy(logits: list[torch.Tensor], y: torch.Tensor) -> dict:
    out = {}
    for j, f in enumerate(FAMILIES):
        known = y[:, j] >= 0
        out[f] = float((logits[j].argmax(-1)[known] == y[known, j]).float().mean()) if known.any() else None
    return out


@torch.no_grad()
def model_metrics(model: CrossModalVAE, arrays: SplitArrays, batch: int = 4096) -> dict:
    model.eval()
    x_norm = model.normalize(arrays.x_test)
    y = arrays.y_test
    labeled = (y >= 0).all(dim=1)
    mu_x = torch.cat([model.encode_signal(b)[0] for b in x_norm.split(batch)])
    mu_y = model.encode_symbols(y[labeled])[0] if labeled.any() else None
    res = {"frames": int(len(x_norm)), "signal_to_signal": _signal_metrics(model, x_norm, mu_x)}
    if mu_y is not None:
        res["symbol_to_signal"] = _signal_metrics(model, x_norm[labeled], mu_y)
        res["symbol_to_symbol"] = _accuracy(model.decode_symbols(mu_y), y[labeled])
    res["signal_to_symbol"] = _accuracy(model.decode_symbols(mu_x), y)
    return res


class _BaselineMLP(nn.Module):
    def __init__(self, n_in: int, sizes: list[int], hidden: int = 512):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, sum(sizes))
        self.sizes = sizes

    def forward(self, x):
        return list(self.head(self.body(x)).split(self.sizes, dim=-1))


def baseline_metrics(arrays: SplitArrays, sizes: list[int], n_components: int = 32, epochs: int = 30, seed: int = 0,
                     augment: Optional[dict] = None, log_floor: float = 1e-4, bins_per_octave: int = 48,
                     vocabulary: Optional[dict] = None) -> dict:
    """The paper's baseline: PCA to the latent size, then a supervised MLP, on the same split, for the
    same number of epochs and with the same frame augmentation and transposition as the model
    (``augment``: its config; ``vocabulary``: its labels)."""
    from .augment import AugmentConfig, augment_frames, label_values, transpose_frames

    torch.manual_seed(seed)
    x = arrays.x_train
    mean = x.mean(0)
    _, _, v = torch.linalg.svd(x - mean, full_matrices=False)
    comps = v[:n_components].T
    scale = ((x - mean) @ comps).std(0) + 1e-6

    def proj(a):
        return (a - mean) @ comps / scale

    yt = arrays.y_train
    aug = AugmentConfig(**augment) if augment else None
    net = _BaselineMLP(n_components, sizes)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for idx in perm.split(256):
            xb, yb = x[idx], yt[idx]
            if aug is not None:
                if aug.shift_probability > 0 and vocabulary:
                    xb, yb = transpose_frames(xb, yb, label_values(vocabulary), aug, bins_per_octave // 12,
                                              float(np.log(log_floor)))
                xb = augment_frames(xb, aug, log_floor, bins_per_octave)
            logits = net(proj(xb))
            loss = sum((F.cross_entropy(lg, yb[:, j].clamp(min=0), reduction="none")[yb[:, j] >= 0].sum()
                        for j, lg in enumerate(logits)), torch.zeros(())) / len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return _accuracy(net(proj(arrays.x_test)), arrays.y_test)


def evaluate(loaded: LoadedModel, dataset: Dataset, baseline: bool = True, seed: Optional[int] = None) -> dict:
    """Metrics on the test groups of (instrument, pitch) (the split the model was trained with, when it
    is the same data). The baseline trains for the model's epochs, with its augmentation."""
    model = loaded.model.cpu()
    vocab = model.config.vocabulary
    training = loaded.info.get("training", {})
    seed = training.get("split_seed", 0) if seed is None else seed
    held_out = training.get("held_out", 0.15)
    validation = training.get("validation", 0.1)
    if dataset.frames.shape[1] != model.config.n_bins:
        raise GlissandoError(f"{dataset.path}: frames have {dataset.frames.shape[1]} bins, "
                             f"the model expects {model.config.n_bins}")
    excluded = tuple(training.get("train_config", {}).get("exclude_collections", []))
    arrays = split_arrays(dataset, vocab, seed, held_out, validation, excluded, training.get("test_groups"),
                          voices=model.config.voices)
    result = {"model": str(loaded.path), "data": str(dataset.path), "held_out": held_out, "split_seed": seed,
              "split": "instrument_pitch"}
    if training and training.get("split") != "instrument_pitch":
        result["warning"] = (f"{loaded.path}: trained with a split by note; the test groups here include notes it "
                             "trained on at other dynamics, so these figures are optimistic")
    result.update(model_metrics(model, arrays))
    if baseline:
        tc = training.get("train_config", {})
        result["baseline_signal_to_symbol"] = baseline_metrics(
            arrays, model.config.family_sizes(), model.config.latent_dim, epochs=int(training.get("epochs", 30)),
            seed=seed, augment=tc.get("augment_config") if tc.get("augment", True) else None,
            log_floor=dataset.spectral.log_floor, bins_per_octave=dataset.spectral.bins_per_octave, vocabulary=vocab)
    return result


CONFIDENT = 0.9


@torch.no_grad()
def note_accuracy(loaded: LoadedModel, dataset: Dataset, collections: Optional[list[str]] = None,
                  include_variations: bool = False) -> dict:
    """Per-note transcription: average the frames' label posteriors over each note, take the most
    likely label. Returns per-family accuracy, 'pitch' (pitch class and octave both right), the same
    per instrument, and how often notes marked at least 90% confident are right.

    ``collections``: only notes of these sample sets. Augmented renderings are left out unless asked.
    """
    model = loaded.model.cpu().eval()
    vocab = model.config.vocabulary
    labels = label_matrix(dataset, vocab)
    x = torch.from_numpy(dataset.frames.astype(np.float32))
    probs = [torch.cat(p).numpy() for p in zip(*[model.signal_to_symbol_probs(b) for b in x.split(4096)])]
    order = np.argsort(dataset.frame_note, kind="stable")
    bounds = np.searchsorted(dataset.frame_note[order], np.arange(len(dataset.notes) + 1))
    families = list(FAMILIES) + ["pitch"]
    correct: dict = {f: [] for f in families}
    confident: dict = {f: [] for f in FAMILIES}
    per_inst: dict = {}
    for i, note in enumerate(dataset.notes):
        if note.silent or note.voices or (collections is not None and note.collection not in collections):
            continue  # mixtures are scored by mixture_accuracy
        if note.variation is not None and not include_variations:
            continue
        rows = order[bounds[i] : bounds[i + 1]]
        if len(rows) == 0:
            continue
        truth = labels[rows[0]]
        mean = [p[rows].mean(0) for p in probs]
        guess = [int(m.argmax()) for m in mean]
        hits = {}
        for j, f in enumerate(FAMILIES):
            if truth[j] >= 0:
                hits[f] = guess[j] == truth[j]
                if mean[j].max() >= CONFIDENT:
                    confident[f].append(hits[f])
        if truth[0] >= 0 and truth[1] >= 0:
            hits["pitch"] = guess[0] == truth[0] and guess[1] == truth[1]
        for f, h in hits.items():
            correct[f].append(h)
            per_inst.setdefault(note.instrument or "?", {}).setdefault(f, []).append(h)
    out: dict = {f: (float(np.mean(c)) if c else None) for f, c in correct.items()}
    out["notes"] = len(correct["pitch"])
    out["per_instrument"] = {inst: {f: float(np.mean(v)) for f, v in d.items()} | {"notes": len(d.get("pitch", []))}
                             for inst, d in sorted(per_inst.items())}
    out["confident"] = {f: {"share": len(c) / max(1, len(correct[f])), "right": float(np.mean(c)) if c else None}
                        for f, c in confident.items()}
    return out


# The paper's Table 2 (section 5.2, mixtures of 2 and 3 instruments), per family: what it reports.
PAPER_MIXTURES = {"strict": {"pitch_class": 0.540, "octave": 0.846, "dynamics": 0.744},
                  "loose": {"pitch_class": 0.879, "octave": 0.992, "dynamics": 0.959}}


def mixture_scores(truth: np.ndarray, guess: np.ndarray, silent_pitch: int) -> tuple[dict, dict]:
    """(strict, loose) accuracy per family of voice-slot labels (frames, voices, families in FAMILIES order)
    against the truth; slots whose true pitch class is ``silent_pitch`` hold no note and are not scored.
    strict: right in the slot that holds the note, with the slot's instrument right too; loose: the value is
    among those the sounding predicted slots name, each named value used once (a multiset match)."""
    families = list(FAMILIES)
    inst = families.index("instrument")
    strict: dict = {f: [] for f in families}
    loose: dict = {f: [] for f in families}
    for t in range(len(truth)):
        named = {f: list(guess[t, guess[t, :, 0] != silent_pitch, j]) for j, f in enumerate(families)}
        for k in np.flatnonzero(truth[t, :, 0] != silent_pitch):
            for j, f in enumerate(families):
                strict[f].append(guess[t, k, j] == truth[t, k, j] and guess[t, k, inst] == truth[t, k, inst])
                hit = truth[t, k, j] in named[f]
                if hit:
                    named[f].remove(truth[t, k, j])
                loose[f].append(hit)
    return ({f: float(np.mean(v)) if v else 0.0 for f, v in strict.items()},
            {f: float(np.mean(v)) if v else 0.0 for f, v in loose.items()})


def mixture_accuracy(loaded: LoadedModel, dataset: Dataset, collections: Optional[list[str]] = None) -> dict:
    """The paper's Table 2 on the mixtures of ``dataset`` (of ``collections`` only), frame by frame, and
    mixture by mixture how often every note is found.

    strict: a note's label is right in the voice slot that holds it, with that slot's instrument right too
    (which instrument played what); loose: the label is among the labels the slots name, whoever played it
    (multiset match). Found: the pitches (class and octave) the slots name, by majority over the mixture's
    frames, include every note of the mixture.
    """
    model = loaded.model.cpu().eval()
    voices = model.config.voices
    vocab = model.config.vocabulary
    families = list(FAMILIES)
    picked = [i for i, n in enumerate(dataset.notes) if n.voices and not n.silent
              and (collections is None or n.collection in collections) and len(n.voices) < voices]
    if not picked:
        raise GlissandoError(f"{dataset.path}: no mixtures of up to {voices} notes"
                             + (f" from {', '.join(collections)}" if collections else ""))
    rows = np.flatnonzero(np.isin(dataset.frame_note, picked))
    truth = label_matrix(dataset, vocab, voices)[rows].reshape(len(rows), voices, len(families))
    x = torch.from_numpy(np.asarray(dataset.frames[rows], dtype=np.float32))
    with torch.no_grad():
        probs = [torch.cat(p).numpy() for p in zip(*[model.signal_to_symbol_probs(b) for b in x.split(4096)])]
    guess = np.stack([p.argmax(1) for p in probs], axis=1).reshape(len(rows), voices, len(families))
    silent = [vocab[f].index(SILENT) for f in families]
    sounding = truth[..., 0] != silent[0]
    strict, loose = mixture_scores(truth, guess, silent[0])
    # Mixture by mixture: the most named (pitch class, octave) pairs over its frames.
    found: dict[int, list] = {}
    frame_note = dataset.frame_note[rows]
    for i in picked:
        mine = np.flatnonzero(frame_note == i)
        if len(mine) == 0:
            continue
        votes: dict = {}
        for t in mine:
            for k in range(voices):
                if guess[t, k, 0] != silent[0] and guess[t, k, 1] != silent[1]:
                    key = (guess[t, k, 0], guess[t, k, 1])
                    votes[key] = votes.get(key, 0) + 1
        heard = {key for key, n in votes.items() if n * 2 >= len(mine)}
        wanted = {(truth[mine[0], k, 0], truth[mine[0], k, 1]) for k in np.flatnonzero(sounding[mine[0]])}
        found.setdefault(len(wanted), []).append(wanted <= heard)
    return {"frames": int(len(rows)), "mixtures": int(sum(len(v) for v in found.values())),
            "strict": strict, "loose": loose,
            "all_found": {f"{n} notes": float(np.mean(v)) for n, v in sorted(found.items())},
            "paper": PAPER_MIXTURES}


def format_mixtures(acc: dict) -> str:
    lines = [f"{acc['mixtures']} mixtures ({acc['frames']} frames), frame by frame; the paper's Table 2 beside:",
             f"{'':14}{'strict':>10}{'paper':>8}{'loose':>10}{'paper':>8}"]
    for f in FAMILIES:
        paper = [PAPER_MIXTURES[kind].get(f) for kind in ("strict", "loose")]
        cells = [f"{acc['strict'][f]:>10.1%}", f"{'-' if paper[0] is None else format(paper[0], '.1%'):>8}",
                 f"{acc['loose'][f]:>10.1%}", f"{'-' if paper[1] is None else format(paper[1], '.1%'):>8}"]
        lines.append(f"{f:14}" + "".join(cells))
    lines += [f"every note found, {n}: {v:.1%}" for n, v in acc["all_found"].items()]
    return "\n".join(lines)


def format_table(result: dict) -> str:
    lines = [f"model {result['model']}  data {result['data']}  "
             f"held-out {result['held_out']:.0%} ({result['frames']} frames)", ""]
    lines.append(f"{'':22}{'log-likelihood':>16}{'Itakura-Saito':>16}")
    for key in ("signal_to_signal", "symbol_to_signal"):
        if key in result:
            m = result[key]
            lines.append(f"{key.replace('_', ' '):22}{m['log_likelihood']:>16.1f}{m['itakura_saito']:>16.3f}")
    lines.append("")
    cols = ["symbol_to_symbol", "signal_to_symbol", "baseline_signal_to_symbol"]
    present = [c for c in cols if c in result]
    lines.append(f"{'classification':22}"
                 + "".join(f"{c.replace('_to_', '->').replace('_', ' '):>26}" for c in present))
    for f in FAMILIES:
        cells = []
        for c in present:
            v = result[c].get(f)
            cells.append(f"{'-' if v is None else f'{v:.1%}':>26}")
        lines.append(f"{f:22}" + "".join(cells))
    return "\n".join(lines)
