"""Which torch device a model runs on: shared by training and by ModelSession."""
from __future__ import annotations

import torch

from .errors import DeviceUnavailable

DEVICES = ("auto", "cpu", "cuda")  # auto: CUDA when there is one, else the CPU


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(name, "no CUDA device is available")
    return torch.device(name)


def available_devices() -> list[str]:
    """The device names a model can open on here (what a device chooser offers)."""
    return [name for name in DEVICES if name != "cuda" or torch.cuda.is_available()]
