"""fl.kernel_inception_distance against torchmetrics' KID, and its bias compared with FID's."""

import numpy as np
import pytest
import torch
from torch import nn
from torchmetrics.image.kid import KernelInceptionDistance, poly_mmd

import forge_lib as fl


def _sets(seed=0, n=(120, 90), d=16, shift=0.0):
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(n[0], d, generator=gen, dtype=torch.float64)
    fake = 1.2 * torch.randn(n[1], d, generator=gen, dtype=torch.float64) + shift
    return real, fake


@pytest.mark.parametrize("degree,gamma,coef", [(3, None, 1.0), (2, 0.3, 0.5), (1, 0.1, 2.0)])
def test_each_subset_matches_torchmetrics_poly_mmd(degree, gamma, coef):
    real, fake = _sets(1, shift=0.2)
    mean, std = fl.kernel_inception_distance(real, fake, subsets=7, subset_size=50,
                                             degree=degree, gamma=gamma, coef=coef, seed=3)
    gen = torch.Generator().manual_seed(3)  # the same subsets, drawn as documented
    theirs = torch.stack([poly_mmd(real[torch.randperm(120, generator=gen)[:50]],
                                   fake[torch.randperm(90, generator=gen)[:50]],
                                   degree, gamma, coef) for _ in range(7)])
    assert torch.allclose(mean, theirs.mean(), rtol=1e-12, atol=1e-15)
    assert torch.allclose(std, theirs.std(unbiased=False), rtol=1e-10, atol=1e-15)
    assert mean.dtype == std.dtype == torch.float64


class _Passthrough(nn.Module):
    """A 'feature extractor' whose input already is the features."""
    num_features = 16

    def forward(self, x):
        return x


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_matches_torchmetrics_kernel_inception_distance_class():
    real, fake = _sets(2, shift=0.1)
    kid = KernelInceptionDistance(feature=_Passthrough(), subsets=5, subset_size=40)
    kid.update(real, real=True)
    kid.update(fake, real=False)
    torch.manual_seed(4)  # the class draws from the global generator, in our order
    tm_mean, tm_std = kid.compute()
    mean, std = fl.kernel_inception_distance(real, fake, subsets=5, subset_size=40, seed=4)
    assert abs(mean.item() - tm_mean.item()) < 1e-12 * max(1.0, abs(mean.item()))
    assert abs(std.item() - tm_std.item()) < 1e-10 * max(1.0, std.item())


def test_same_distribution_kid_centres_on_zero_while_fid_is_biased_up():
    gen = torch.Generator().manual_seed(5)
    kids, fids = [], []
    for _ in range(40):
        a = torch.randn(100, 20, generator=gen, dtype=torch.float64)
        b = torch.randn(100, 20, generator=gen, dtype=torch.float64)
        kids.append(fl.kernel_inception_distance(a, b, subsets=1, subset_size=100)[0].item())
        fids.append(fl.frechet_distance(a, b).item())
    kids, fids = np.array(kids), np.array(fids)
    assert abs(kids.mean()) < 3 * kids.std() / np.sqrt(len(kids))  # 0 within 3 standard errors
    assert (kids < 0).sum() >= 5  # an unbiased estimate of 0 is often negative
    assert fids.min() > 0 and fids.mean() > 10 * fids.std() / np.sqrt(len(fids))  # clearly > 0


def test_detects_a_shift_and_is_zero_for_identical_subsets():
    real, fake = _sets(6, shift=1.0)
    mean, std = fl.kernel_inception_distance(real, fake, subsets=10, subset_size=60)
    assert mean > 10 * std > 0
    # One subset covering every row of the same set twice: the MMD^2_u of a set with itself is
    # not exactly 0 (the cross term keeps i = j), but it is small and of either sign.
    same, _ = fl.kernel_inception_distance(real, real, subsets=1, subset_size=120)
    assert abs(same.item()) < 0.05 * mean.item()


def test_bad_inputs():
    real, fake = _sets(7)
    cases = [
        (dict(features_real=real.float().numpy()), TypeError, "torch.Tensor"),
        (dict(features_real=real.long()), TypeError, "floating-point"),
        (dict(features_real=real[:, :3]), ValueError, "same extractor"),
        (dict(features_real=real[0]), ValueError, "shape \\(N, D\\)"),
        (dict(subset_size=200), ValueError, "subset_size=90"),
        (dict(subset_size=1), ValueError, "from 2"),
        (dict(subsets=0), ValueError, "positive int"),
        (dict(subsets=2.0), TypeError, "positive int"),
        (dict(degree=0), ValueError, "positive int"),
        (dict(gamma=0.0), ValueError, "> 0"),
        (dict(coef=-1.0), ValueError, ">= 0"),
        (dict(seed=1.5), TypeError, "int"),
    ]
    for overrides, error, message in cases:
        kwargs = dict(features_real=real, features_fake=fake, subsets=2, subset_size=50)
        kwargs.update(overrides)
        with pytest.raises(error, match=message):
            fl.kernel_inception_distance(kwargs.pop("features_real"), kwargs.pop("features_fake"),
                                         **kwargs)
    bad = real.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        fl.kernel_inception_distance(bad, fake, subsets=2, subset_size=50)
