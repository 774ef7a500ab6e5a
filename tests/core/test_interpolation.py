import numpy as np
import pytest

from glissando.core.interpolation import interpolate

TIMES = np.array([0.0, 1.0, 2.0])
TARGETS = np.array([[0.0, 0.0], [1.0, 2.0], [-1.0, 0.5]])
QUERY = np.linspace(0, 2, 201)  # 10 ms frames


@pytest.mark.parametrize("mode", ["none", "linear", "cubic", "spherical"])
def test_every_mode_gives_one_frame_per_query_and_hits_the_targets(mode):
    path = interpolate(TIMES, TARGETS, QUERY, mode)
    assert path.shape == (len(QUERY), 2)
    for t, target in zip(TIMES, TARGETS):
        assert np.allclose(path[np.argmin(np.abs(QUERY - t))], target, atol=1e-9)


def _largest_step(path):
    return np.max(np.linalg.norm(np.diff(path, axis=0), axis=1))


def test_none_jumps_and_the_others_are_continuous():
    jump = np.max(np.linalg.norm(np.diff(TARGETS, axis=0), axis=1))
    assert _largest_step(interpolate(TIMES, TARGETS, QUERY, "none")) == pytest.approx(jump)
    for mode in ("linear", "cubic", "spherical"):
        # 10 ms steps along a path whose targets are about 2 apart per second: small steps only
        assert _largest_step(interpolate(TIMES, TARGETS, QUERY, mode)) < 0.05, mode


def test_linear_is_straight_and_cubic_is_smooth():
    lin = interpolate(TIMES, TARGETS, QUERY, "linear")
    assert np.allclose(lin[50], (TARGETS[0] + TARGETS[1]) / 2)
    cub = interpolate(TIMES, TARGETS, QUERY, "cubic")
    slope_change = np.abs(np.diff(np.diff(cub, axis=0), axis=0)).max()
    slope_change_linear = np.abs(np.diff(np.diff(lin, axis=0), axis=0)).max()
    assert slope_change < slope_change_linear / 5  # no corner at the middle target


def test_spherical_keeps_the_radius_that_linear_loses():
    a, b = np.array([[3.0, 0.0]]), np.array([[-0.1, 3.0]])
    t, q = np.array([0.0, 1.0]), np.array([0.5])
    sph = interpolate(t, np.vstack([a, b]), q, "spherical")
    lin = interpolate(t, np.vstack([a, b]), q, "linear")
    assert np.linalg.norm(sph) == pytest.approx((np.linalg.norm(a) + np.linalg.norm(b)) / 2)
    assert np.linalg.norm(lin) < np.linalg.norm(sph) - 0.5


def test_bad_paths_are_refused():
    with pytest.raises(ValueError):
        interpolate(np.array([1.0, 0.0]), TARGETS[:2], QUERY, "linear")
    with pytest.raises(ValueError):
        interpolate(TIMES, TARGETS, QUERY, "quintic")
