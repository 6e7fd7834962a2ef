"""forge_lib.video against independent references: numpy loops, torch.roll, known motion."""

import math

import numpy as np
import pytest
import torch

import forge_lib as fl
from forge_lib import check as checks


@pytest.fixture(scope="module")
def video():
    return fl.moving_shapes_video(n_frames=8, size=32, seed=3)


def test_synthetic_video_is_deterministic_and_exactly_explained_by_its_flow(video):
    again = fl.moving_shapes_video(n_frames=8, size=32, seed=3)
    assert torch.equal(video.frames, again.frames) and torch.equal(video.flows, again.flows)
    assert video.frames.min() >= 0 and video.frames.max() <= 1
    assert video.valid.float().mean() > 0.7  # occlusions are a minority of pixels
    assert video.flows.abs().max() > 0  # something moves
    # Reference check without grid_sample: integer flows, so gather the source pixel directly.
    for t in range(7):
        flow = video.flows[t].long()
        ys, xs = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
        sx, sy = xs + flow[0], ys + flow[1]
        ok = video.valid[t, 0]
        src = video.frames[t][:, sy[ok], sx[ok]]
        assert torch.equal(src, video.frames[t + 1][:, ok])
    assert fl.flow_warping_error(video.frames, video.flows, mask=video.valid).item() < 1e-20


def test_backward_warp_integer_shift_matches_roll():
    img = torch.rand(2, 3, 9, 11, dtype=torch.float64)
    flow = torch.zeros(2, 2, 9, 11, dtype=torch.float64)
    flow[:, 0], flow[:, 1] = 2.0, -1.0  # out(y, x) = img(y - 1, x + 2)
    warped, inside = fl.backward_warp(img, flow)
    rolled = torch.roll(img, shifts=(1, -2), dims=(2, 3))
    assert torch.allclose(warped[:, :, 1:, :-2], rolled[:, :, 1:, :-2], atol=1e-12)
    assert inside[:, 0, 1:, :-2].all() and not inside[:, 0, 0].any() and not inside[:, 0, :, -2:].any()


def test_backward_warp_subpixel_matches_numpy_bilinear():
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(1, 1, 6, 7, generator=gen, dtype=torch.float64)
    flow = torch.rand(1, 2, 6, 7, generator=gen, dtype=torch.float64) * 0.9
    warped, _ = fl.backward_warp(img, flow)
    a = img[0, 0].numpy()
    for y in range(5):
        for x in range(6):
            sx, sy = x + flow[0, 0, y, x].item(), y + flow[0, 1, y, x].item()
            x0, y0 = math.floor(sx), math.floor(sy)
            fx, fy = sx - x0, sy - y0
            ref = (a[y0, x0] * (1 - fx) * (1 - fy) + a[y0, x0 + 1] * fx * (1 - fy)
                   + a[y0 + 1, x0] * (1 - fx) * fy + a[y0 + 1, x0 + 1] * fx * fy)
            assert warped[0, 0, y, x].item() == pytest.approx(ref, abs=1e-12)


def _warping_error_loop(frames, flows, mask):
    errors = []
    for t in range(len(frames) - 1):
        warped, inside = fl.backward_warp(frames[t:t + 1].double(), flows[t:t + 1].double())
        keep = (inside & mask[t:t + 1]).expand(-1, frames.shape[1], -1, -1)
        diff = (warped - frames[t + 1:t + 2].double())[keep]
        errors.append(float((diff**2).mean()))
    return errors


def test_flow_warping_error_per_pair_batch_and_direction(video):
    shuffled = fl.shuffle_frames(video.frames, seed=1)
    per = fl.flow_warping_error(shuffled, video.flows, mask=video.valid, per_pair=True)
    assert per.shape == (7,)
    assert np.allclose(per.numpy(), _warping_error_loop(shuffled, video.flows, video.valid))
    assert fl.flow_warping_error(shuffled, video.flows, mask=video.valid) > 1e-3
    # Sign error: the forward flow used as a backward flow warps the wrong way.
    assert fl.flow_warping_error(video.frames, -video.flows, mask=video.valid) > 1e-3
    batch = torch.stack([video.frames, shuffled])
    both = fl.flow_warping_error(batch, torch.stack([video.flows] * 2),
                                 mask=torch.stack([video.valid] * 2))
    assert both.shape == (2,) and both[1].item() == pytest.approx(per.mean().item(), rel=1e-12)


def test_temporal_cosine_similarity_against_numpy():
    gen = torch.Generator().manual_seed(0)
    f = torch.randn(3, 6, 5, generator=gen)
    ours = fl.temporal_cosine_similarity(f)
    a = f.double().numpy()
    ref = [np.mean([a[n, t] @ a[n, t + 1] / np.linalg.norm(a[n, t]) / np.linalg.norm(a[n, t + 1])
                    for t in range(5)]) for n in range(3)]
    assert ours.shape == (3,) and np.allclose(ours.numpy(), ref, atol=1e-12)
    assert fl.temporal_cosine_similarity(f[0], per_pair=True).shape == (5,)
    frozen = f[0, :1].repeat(4, 1)
    assert fl.temporal_cosine_similarity(frozen).item() == pytest.approx(1.0)


def test_corruptions(video):
    frames = video.frames
    shuffled = fl.shuffle_frames(frames, seed=0)
    assert not torch.equal(shuffled, frames)
    assert sorted(shuffled.sum(dim=(1, 2, 3)).tolist()) == sorted(frames.sum(dim=(1, 2, 3)).tolist())
    jittered = fl.temporal_jitter(frames, max_shift=1, seed=0)
    for t in range(len(frames)):  # each frame is one of its neighbours
        assert any(torch.equal(jittered[t], frames[s]) for s in range(max(t - 1, 0), min(t + 2, 8)))
    flick = fl.flicker(frames, amplitude=0.1, seed=0)
    assert flick.min() >= 0 and flick.max() <= 1 and (flick - frames).abs().max() <= 0.1 + 1e-6
    frozen = fl.freeze_frames(frames, hold=4)
    assert torch.equal(frozen[3], frames[0]) and torch.equal(frozen[4], frames[4])
    batch = fl.moving_shapes_dataset(2, 5, 16, seed=0)
    assert fl.shuffle_frames(batch, seed=0).shape == batch.shape  # time is dim -4 in a batch too


def test_video_features():
    net = fl.RandomVideoFeatures(seed=0)
    assert torch.allclose(net.convs[0].weight.sum(dim=2), torch.zeros(1), atol=1e-5)  # motion only
    plain = fl.RandomVideoFeatures(seed=0, motion_only=False)
    assert plain.convs[0].weight.sum(dim=2).abs().max() > 0.1
    videos = fl.moving_shapes_dataset(3, 6, 32, seed=1)
    assert net(videos).shape == (3, net.num_features)
    assert fl.frame_features(videos).shape == (3, 6, 1024)
    with pytest.raises(ValueError, match=r"\(N, T, C, H, W\)"):
        net(videos[0])


def test_motion_only_features_of_a_static_clip():
    # Motion-only kernels cancel static content in the interior frames, but the zero padding in
    # time makes the first and last frame respond: a static clip's features are not zero.
    net = fl.RandomVideoFeatures(seed=0)
    moving = fl.moving_shapes_video(n_frames=16, size=32, seed=0).frames  # (16, 3, 32, 32)
    static = moving[:1].repeat(16, 1, 1, 1)
    first = net.convs[0](static[None].permute(0, 2, 1, 3, 4) * 2 - 1)  # (1, 16, T, H', W')
    assert first[:, :, 1:-1].abs().max() < 1e-5  # interior frames: no response
    assert first[:, :, 0].abs().max() > 0.1 and first[:, :, -1].abs().max() > 0.1  # borders
    static_norm, moving_norm = net(static[None]).norm().item(), net(moving[None]).norm().item()
    assert 0.1 < static_norm < 0.5 * moving_norm  # about 0.36 and 1.58


def test_estimated_flow_recovers_a_translation():
    pytest.importorskip("cv2")
    gen = torch.Generator().manual_seed(0)
    big = torch.nn.functional.interpolate(torch.rand(1, 3, 12, 12, generator=gen), size=(48, 48),
                                          mode="bilinear", align_corners=True)[0]
    frames = torch.stack([big[:, 4:36, 4:36], big[:, 4:36, 5:37]])  # content moves 1 px left
    flow = fl.estimate_flow_farneback(frames)
    assert flow.shape == (1, 2, 32, 32)
    centre = flow[0, :, 8:24, 8:24]
    # frame 1 at p shows frame 0 at p + (1, 0): backward flow (dx, dy) = (+1, 0)
    assert centre[0].median().item() == pytest.approx(1.0, abs=0.2)
    assert centre[1].median().item() == pytest.approx(0.0, abs=0.2)
    assert torch.equal(flow, fl.estimate_flow_farneback(frames))


def test_video_bad_inputs(video):
    with pytest.raises(ValueError, match="at least 2 frames"):
        fl.flow_warping_error(video.frames[:1], video.flows[:0])
    with pytest.raises(ValueError, match="flows: expected shape"):
        fl.flow_warping_error(video.frames, video.flows[:, :1])
    with pytest.raises(ValueError, match="mask: expected shape"):
        fl.flow_warping_error(video.frames, video.flows, mask=video.valid[:3])
    with pytest.raises(TypeError, match="floating-point"):
        fl.flow_warping_error((video.frames * 255).byte(), video.flows)
    with pytest.raises(ValueError, match=r"\(T, C, H, W\)"):
        fl.shuffle_frames(video.frames[0])
    with pytest.raises(ValueError, match="at least 2 frames"):
        fl.temporal_cosine_similarity(torch.rand(1, 4))
    with pytest.raises(ValueError, match=r"\(T, D\)"):
        fl.temporal_cosine_similarity(torch.rand(4))
    bad = torch.rand(3, 4)
    bad[1, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fl.temporal_cosine_similarity(bad)
    with pytest.raises(ValueError, match="n_frames >= 2"):
        fl.moving_shapes_video(n_frames=1)


def test_checker_consecutive_cosine(capsys):
    def right(f):
        return torch.nn.functional.cosine_similarity(f[:-1], f[1:], dim=-1).mean().item()

    assert checks.consecutive_cosine(right)
    assert not checks.consecutive_cosine(lambda f: (f[:-1] * f[1:]).sum(-1).mean().item())
    assert "norms" in capsys.readouterr().out


def test_checker_pixel_flow_to_grid(capsys):
    def right(flow):
        _, h, w = flow.shape
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        return torch.stack([2 * (xs + flow[0]) / (w - 1) - 1, 2 * (ys + flow[1]) / (h - 1) - 1], -1)

    def swapped(flow):
        return right(flow).flip(-1)

    assert checks.pixel_flow_to_grid(right)
    assert not checks.pixel_flow_to_grid(swapped)
    assert "x (width) first" in capsys.readouterr().out
