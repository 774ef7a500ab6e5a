"""Make nsgt 0.19 work with current numpy.

nsgt.nsgfwin_sl clips an integer window-length array in place with an ``np.inf`` bound
(``np.clip(M, min_win, np.inf, out=M)``), which numpy refuses (float output cast to int).
Rather than patching site-packages (lost on every reinstall), we give that one module a numpy
whose ``clip`` turns the infinite bound into the integer maximum. Everything else is numpy itself.
"""
from __future__ import annotations

import types
import warnings

import numpy


class _NumpyWithIntSafeClip(types.ModuleType):
    def __getattr__(self, name):
        return getattr(numpy, name)

    @staticmethod
    def clip(a, a_min, a_max, out=None, **kwargs):
        if out is not None and numpy.asarray(out).dtype.kind in "iu" and a_max == numpy.inf:
            a_max = numpy.iinfo(out.dtype).max
        return numpy.clip(a, a_min, a_max, out=out, **kwargs)


def import_nsgt():
    """Return the patched ``nsgt`` module (idempotent)."""
    with warnings.catch_warnings():
        # nsgt warns once that it uses numpy.fft instead of pyfftw: expected, not actionable.
        warnings.simplefilter("ignore")
        import nsgt
        import nsgt.nsgfwin_sl as win_module
    if not isinstance(win_module.np, _NumpyWithIntSafeClip):
        win_module.np = _NumpyWithIntSafeClip("numpy_int_safe_clip")
    return nsgt
