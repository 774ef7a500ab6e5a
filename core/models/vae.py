"""Two VAEs sharing one latent space (Chemla-Romeu-Santos et al.): a signal VAE on normalized
log-magnitude NSGT frames and a symbol VAE on categorical labels, matched by KL(q_signal || q_symbol)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import torch
from torch import nn
from torch.nn import functional as F

from ..data.labels import FAMILIES, SILENT
from .noise import StepNoise

ARCHITECTURES = ("paper", "conv")


@dataclass
class ModelConfig:
    n_bins: int = 410
    latent_dim: int = 32
    # The signal encoder: "paper", the paper's MLP on the whole frame; "conv", convolutions along the
    # constant-Q axis over a harmonic stack of the frame (HarmonicConvEncoder), which recognise a
    # pitch learnt on one instrument wherever it sits on another's range.
    arch: str = "paper"
    bins_per_octave: int = 48
    dropout: float = 0.0  # in the conv encoder's head
    conv_channels: int = 16  # 16: as fast as the paper MLP on 2 CPU cores (32 takes 2.5x as long)
    signal_hidden: int = 1024  # paper: 2000 (--hidden 2000); 1024 trains about 3x faster on 2 CPU cores
    signal_layers: int = 2
    symbol_hidden: int = 512  # paper: 800
    symbol_layers: int = 2
    # Each family's labels, the silent class last.
    vocabulary: dict = field(default_factory=dict)
    cross_weight: float = 10.0  # the paper's x10 on KL(q_signal || q_symbol)
    # Not in the paper: decode each domain from the other's latent sample too. It trains the
    # translation paths (signal->symbol, symbol->signal) directly, not only through the KL match.
    cross_decode_weight: float = 1.0
    # Label cross-entropies are a few nats against hundreds for a spectrum: weighting them up keeps
    # the shared latent organised by the labels as well as by the spectra.
    symbol_weight: float = 10.0
    # Notes heard at once (the paper's section 5.2): the symbol side has one set of labels per voice
    # slot, lowest note first, the unused slots silent. 1: single notes, as the paper's main model.
    voices: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown model settings: {', '.join(sorted(unknown))}")
        return cls(**d)

    def family_sizes(self) -> list[int]:
        """Each label head's class count: the four families, once per voice slot."""
        return [len(self.vocabulary[f]) for f in FAMILIES] * self.voices


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


class HarmonicConvEncoder(nn.Module):
    """Signal encoder that shares what it learns along the pitch axis.

    Each bin k is stacked with the bins where the harmonics (and the sub-octave) of a fundamental at k
    would sit (k + bins_per_octave * log2 h), as in harmonic CQT front ends (basic-pitch, Bittner et
    al. 2017): one octave above the fundamental then looks different from the fundamental itself,
    which is what keeps an octave from being mistaken for its neighbour. Convolutions along the bins
    turn the stack into pitch evidence that is the same detector at every pitch; a dense head reads
    where that evidence sits (pitch class, octave), and channel statistics pooled over all bins
    describe the timbre independently of the pitch (instrument, dynamics).
    """

    HARMONICS = (0.5, 1, 2, 3, 4, 5, 6)

    def __init__(self, n_bins: int, bins_per_octave: int, out_dim: int, channels: int = 32, hidden: int = 512,
                 dropout: float = 0.0):
        super().__init__()
        self.shifts = [int(round(bins_per_octave * math.log2(h))) for h in self.HARMONICS]
        c = channels
        self.conv = nn.Sequential(
            nn.Conv1d(len(self.shifts), c, 5, padding=2), nn.ReLU(),
            nn.Conv1d(c, c, 5, padding=4, dilation=2), nn.ReLU(),
            nn.Conv1d(c, c, 3, padding=12, dilation=12), nn.ReLU(),  # reaches a semitone's neighbours' harmonics
        )
        self.salience = nn.Conv1d(c, 4, 1)
        self.head = nn.Sequential(StepDropout(dropout), nn.Linear(4 * n_bins + 2 * c + n_bins, hidden), nn.ReLU(),
                                  StepDropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(),
                                  nn.Linear(hidden, out_dim))

    def stack(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n) -> (B, harmonics, n): row j holds x[k + shift_j]; beyond the frame, the frame's floor."""
        floor = x.min(dim=1, keepdim=True).values
        n = x.shape[1]
        rows = []
        for s in self.shifts:
            if s >= 0:
                rows.append(torch.cat([x[:, s:], floor.expand(-1, min(s, n))], dim=1)[:, :n])
            else:
                rows.append(torch.cat([floor.expand(-1, min(-s, n)), x[:, :s]], dim=1)[:, -n:])
        return torch.stack(rows, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convolve(self.stack(x))
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        # The salience is a 1x1 convolution: as a product over channels it takes a quarter of the time
        # torch's Conv1d does on the CPU, where it was a fifth of the encoder.
        bias = self.salience.bias
        assert bias is not None  # made with one
        salience = torch.einsum("oc,ncl->nol", self.salience.weight[:, :, 0], h) + bias[:, None]
        # The raw frame too: overall level (dynamics) and the exact spectral envelope (instrument).
        return self.head(torch.cat([salience.flatten(1), pooled, x], dim=1))

    def convolve(self, stacked: torch.Tensor) -> torch.Tensor:
        """self.conv, run as 2-D convolutions of height 1 on channels-last tensors: oneDNN's fastest path on
        the CPU, three quarters of Conv1d's time (two thirds on one thread) for the same weights and result."""
        y = stacked.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        for layer in self.conv:
            if isinstance(layer, nn.Conv1d):
                weight = layer.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
                padding = layer.padding[0]
                assert isinstance(padding, int), "the encoder's convolutions pad by a number of bins"
                y = F.conv2d(y, weight, layer.bias, padding=(0, padding), dilation=(1, layer.dilation[0]))
            else:
                y = layer(y)
        return y.squeeze(2).contiguous()


class StepDropout(nn.Dropout):
    """nn.Dropout whose mask, while the model trains a step with a StepNoise (``noise``, set by loss), comes
    from that noise: the same mask for a frame whatever the number of training processes (noise.py)."""

    noise: Optional[StepNoise] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or self.noise is None:
            return super().forward(x)
        keep = self.noise.rand(x.shape[0], *x.shape[1:]) >= self.p
        return x * keep / (1 - self.p)


def gaussian_kl(mu_q, logvar_q, mu_p=None, logvar_p=None) -> torch.Tensor:
    """KL(q || p) for diagonal Gaussians, summed over the last axis; p defaults to N(0, I)."""
    if mu_p is None:
        return 0.5 * torch.sum(mu_q.pow(2) + logvar_q.exp() - 1.0 - logvar_q, dim=-1)
    return 0.5 * torch.sum(logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1.0, dim=-1)


def gaussian_nll(x, mean, logvar) -> torch.Tensor:
    return 0.5 * torch.sum(logvar + (x - mean).pow(2) / logvar.exp() + math.log(2 * math.pi), dim=-1)


class CrossModalVAE(nn.Module):
    # The normalization buffers registered in __init__ (register_buffer leaves their type unknown).
    norm_mean: torch.Tensor
    norm_scale: torch.Tensor

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        self.signal_encoder: nn.Module
        if c.arch == "conv":
            self.signal_encoder = HarmonicConvEncoder(c.n_bins, c.bins_per_octave, 2 * c.latent_dim, c.conv_channels,
                                                      c.signal_hidden, c.dropout)
        elif c.arch == "paper":
            self.signal_encoder = _mlp([c.n_bins] + [c.signal_hidden] * c.signal_layers + [2 * c.latent_dim])
        else:
            raise ValueError(f"unknown architecture {c.arch!r} (known: {', '.join(ARCHITECTURES)})")
        self.signal_decoder = _mlp([c.latent_dim] + [c.signal_hidden] * c.signal_layers + [c.n_bins])
        # One learned variance per bin: the decoded distribution the paper's log-likelihood is measured on.
        self.signal_logvar = nn.Parameter(torch.full((c.n_bins,), -4.0))
        self.sizes = c.family_sizes()
        self.symbol_encoder = _mlp([sum(self.sizes)] + [c.symbol_hidden] * c.symbol_layers + [2 * c.latent_dim])
        self.symbol_decoder = _mlp([c.latent_dim] + [c.symbol_hidden] * c.symbol_layers + [sum(self.sizes)])
        # Normalization of log-magnitude frames (paper: minus the global mean, over the global max).
        self.register_buffer("norm_mean", torch.zeros(()))
        self.register_buffer("norm_scale", torch.ones(()))

    # -- normalization -------------------------------------------------------------------------
    def normalize(self, log_frames: torch.Tensor) -> torch.Tensor:
        return (log_frames - self.norm_mean) / self.norm_scale

    def denormalize(self, frames: torch.Tensor) -> torch.Tensor:
        return frames * self.norm_scale + self.norm_mean

    # -- the four networks ---------------------------------------------------------------------
    def encode_signal(self, x: torch.Tensor):
        mu, logvar = self.signal_encoder(x).chunk(2, dim=-1)
        return mu, logvar.clamp(-12, 6)

    def decode_signal(self, z: torch.Tensor):
        mean = self.signal_decoder(z)
        return mean, self.signal_logvar.clamp(-10, 4).expand_as(mean)

    def symbols_to_input(self, labels: torch.Tensor) -> torch.Tensor:
        """(B, 4) class indices, -1 where unknown -> concatenated one-hots (zeros where unknown)."""
        parts = []
        for j, size in enumerate(self.sizes):
            col = labels[:, j]
            onehot = F.one_hot(col.clamp(min=0), size).float()
            parts.append(onehot * (col >= 0).unsqueeze(-1).float())
        return torch.cat(parts, dim=-1)

    def encode_symbols(self, labels: torch.Tensor):
        mu, logvar = self.symbol_encoder(self.symbols_to_input(labels)).chunk(2, dim=-1)
        return mu, logvar.clamp(-12, 6)

    def decode_symbols(self, z: torch.Tensor) -> list[torch.Tensor]:
        """Logits per family."""
        return list(self.symbol_decoder(z).split(self.sizes, dim=-1))

    @staticmethod
    def sample(mu, logvar, eps: Optional[torch.Tensor] = None):
        return mu + (torch.randn_like(mu) if eps is None else eps.to(mu.dtype)) * (0.5 * logvar).exp()

    def symbol_nll(self, logits: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(labels.shape[0], device=labels.device)
        for j, lg in enumerate(logits):
            known = (labels[:, j] >= 0).float()
            total = total + F.cross_entropy(lg, labels[:, j].clamp(min=0), reduction="none") * known
        return total

    # -- training objective --------------------------------------------------------------------
    def loss(self, x: torch.Tensor, labels: torch.Tensor, beta: float,
             regularizer: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
             noise: Optional[StepNoise] = None) -> tuple[torch.Tensor, dict]:
        """Negative ELBO of both VAEs plus the cross-modal terms, averaged over the batch.
        Rows whose labels are all unknown (-1) train the signal VAE only. ``regularizer``, given the
        signal posterior means, adds its (weighted) term (training/perceptual.py). ``noise``: the step's
        random numbers (dropout masks, both VAEs' sampling), else torch's global generator."""
        c = self.config
        dropouts = [m for m in self.modules() if isinstance(m, StepDropout)]
        for m in dropouts:
            m.noise = noise
        try:
            mu_x, lv_x = self.encode_signal(x)
        finally:
            for m in dropouts:
                m.noise = None
        # Drawn for every row whether labelled or not, in one order, so that every process draws alike.
        eps_x = noise.randn(*mu_x.shape) if noise is not None else None
        eps_y = noise.randn(*mu_x.shape) if noise is not None else None
        z_x = self.sample(mu_x, lv_x, eps_x)
        rec_x = gaussian_nll(x, *self.decode_signal(z_x))
        kl_x = gaussian_kl(mu_x, lv_x)
        total = rec_x + beta * kl_x
        parts = {"rec_signal": rec_x.mean().item(), "kl_signal": kl_x.mean().item()}
        labeled = (labels >= 0).any(dim=1)
        if labeled.any():
            y = labels[labeled]
            mu_y, lv_y = self.encode_symbols(y)
            z_y = self.sample(mu_y, lv_y, eps_y[labeled] if eps_y is not None else None)
            rec_y = self.symbol_nll(self.decode_symbols(z_y), y)
            kl_y = gaussian_kl(mu_y, lv_y)
            cross = gaussian_kl(mu_x[labeled], lv_x[labeled], mu_y, lv_y)
            # The warm-up scales the cross term too: with it at full strength from the start, both
            # posteriors collapse onto the prior before either has learned to carry information.
            extra = c.symbol_weight * rec_y + beta * (kl_y + c.cross_weight * cross)
            if c.cross_decode_weight:
                sig_to_sym = self.symbol_nll(self.decode_symbols(z_x[labeled]), y)
                # Labels -> spectrum only where the labels say all the spectrum shows: a frame whose
                # dynamics are unknown (level variation moved it up to 30 dB) would teach the labels'
                # sound a random level, and the renders of every instrument drifted towards others'.
                complete = (y >= 0).all(dim=1).float()
                sym_to_sig = gaussian_nll(x[labeled], *self.decode_signal(z_y)) * complete
                extra = extra + c.cross_decode_weight * (c.symbol_weight * sig_to_sym + sym_to_sig)
                parts["signal_to_symbol"] = sig_to_sym.mean().item()
                parts["symbol_to_signal"] = (sym_to_sig.sum() / complete.sum().clamp(min=1)).item()
            total = total.clone()
            total[labeled] = total[labeled] + extra
            parts.update(rec_symbol=rec_y.mean().item(), kl_symbol=kl_y.mean().item(), cross_kl=cross.mean().item())
        loss = total.mean()
        if regularizer is not None:
            term = regularizer(mu_x)
            loss = loss + term
            parts["perceptual"] = term.item()
        parts["loss"] = loss.item()
        return loss, parts

    # -- inference helpers ---------------------------------------------------------------------
    def label_indices(self, labels: list) -> torch.Tensor:
        """[{family: label or None}] (one note each) or [[{...}, ...]] (a chord: one dict per voice, lowest
        first) -> (B, 4 x voices) index tensor, -1 for unknown labels, the slots no note fills silent."""
        vocab = self.config.vocabulary
        rows = []
        for lab in labels:
            chord = lab if isinstance(lab, list) else [lab]
            if len(chord) > self.config.voices:
                raise ValueError(f"{len(chord)} notes at once; the model hears at most {self.config.voices}")
            row = []
            for k in range(self.config.voices):
                for f in FAMILIES:
                    v = chord[k].get(f) if k < len(chord) else SILENT
                    row.append(vocab[f].index(v) if v is not None else -1)
            rows.append(row)
        return torch.tensor(rows, dtype=torch.long, device=self.norm_mean.device)

    @torch.no_grad()
    def signal_to_symbol_probs(self, log_frames: torch.Tensor) -> list[torch.Tensor]:
        mu, _ = self.encode_signal(self.normalize(log_frames))
        return [lg.softmax(-1) for lg in self.decode_symbols(mu)]

    def silent_index(self, family: str) -> int:
        return self.config.vocabulary[family].index(SILENT)
