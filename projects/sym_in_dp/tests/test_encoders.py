"""Encoders: torchvision-format ResNet-18 loading, Frame Averaging and the escnn encoder."""

from __future__ import annotations

import pytest
import torch
from sym_in_dp.checks import equivariant_encoder_errors, frame_averaging_errors
from sym_in_dp.encoders import (
    EquivariantResEncoder,
    FrameAveragedEncoder,
    ResNet18Encoder,
    ResNet18Trunk,
    crop_images,
    load_torchvision_resnet18,
)


def torchvision_resnet18_state_dict(generator) -> dict[str, torch.Tensor]:
    """A state dict with torchvision's ResNet-18 keys and shapes (BatchNorm and fc included)."""
    sd = {"conv1.weight": torch.randn(64, 3, 7, 7, generator=generator)}

    def bn(prefix, c):
        sd[f"{prefix}.weight"] = torch.rand(c, generator=generator)
        sd[f"{prefix}.bias"] = torch.randn(c, generator=generator)
        sd[f"{prefix}.running_mean"] = torch.randn(c, generator=generator)
        sd[f"{prefix}.running_var"] = torch.rand(c, generator=generator)
        sd[f"{prefix}.num_batches_tracked"] = torch.tensor(100)

    bn("bn1", 64)
    cin = 64
    for layer, c in enumerate([64, 128, 256, 512], start=1):
        for block in range(2):
            p = f"layer{layer}.{block}"
            first_in = cin if block == 0 else c
            sd[f"{p}.conv1.weight"] = torch.randn(c, first_in, 3, 3, generator=generator)
            bn(f"{p}.bn1", c)
            sd[f"{p}.conv2.weight"] = torch.randn(c, c, 3, 3, generator=generator)
            bn(f"{p}.bn2", c)
            if block == 0 and layer > 1:
                sd[f"{p}.downsample.0.weight"] = torch.randn(c, cin, 1, 1, generator=generator)
                bn(f"{p}.downsample.1", c)
        cin = c
    sd["fc.weight"] = torch.randn(1000, 512, generator=generator)
    sd["fc.bias"] = torch.randn(1000, generator=generator)
    return sd


def test_resnet18_loads_torchvision_format_weights(generator):
    sd = torchvision_resnet18_state_dict(generator)
    trunk = ResNet18Trunk(3, 64)
    skipped = load_torchvision_resnet18(trunk, sd)
    own = trunk.state_dict()
    assert torch.equal(own["conv1.weight"], sd["conv1.weight"])
    assert torch.equal(own["layer3.0.downsample.0.weight"], sd["layer3.0.downsample.0.weight"])
    assert torch.equal(own["layer4.1.conv2.weight"], sd["layer4.1.conv2.weight"])
    # Every convolution of ResNet-18 was loaded; only norm layers and the classifier are left.
    assert all(".bn" in k or k.startswith(("bn1", "fc")) or "downsample.1" in k for k in skipped)
    assert "fc.weight" in skipped and "bn1.running_mean" in skipped
    assert trunk(torch.rand(2, 3, 76, 76)).shape == (2, 512, 3, 3)


def test_resnet18_loading_errors_name_the_problem(generator):
    sd = torchvision_resnet18_state_dict(generator)
    with pytest.raises(ValueError, match="width 64"):
        load_torchvision_resnet18(ResNet18Trunk(3, 16), sd)
    bad = dict(sd)
    bad["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
    with pytest.raises(ValueError, match="layer2.0.conv1.weight.*shape"):
        load_torchvision_resnet18(ResNet18Trunk(3, 64), bad)
    del bad["layer2.0.conv1.weight"]
    with pytest.raises(ValueError, match="no 'layer2.0.conv1.weight'"):
        load_torchvision_resnet18(ResNet18Trunk(3, 64), bad)


def test_crops(generator):
    x = torch.rand(5, 3, 84, 84, generator=generator)
    centre = crop_images(x, 76, random=False)
    assert torch.equal(centre, x[:, :, 4:80, 4:80])
    rand = crop_images(x, 76, random=True, generator=generator)
    assert rand.shape == (5, 3, 76, 76)
    # Each random crop is a window of its own image.
    for b in range(5):
        hits = [
            torch.equal(rand[b], x[b, :, i : i + 76, j : j + 76])
            for i in range(9)
            for j in range(9)
        ]
        assert any(hits)


def test_frame_averaging_is_c8_equivariant(generator):
    """Acceptance: a 90-degree rotation cyclically shifts the regular blocks by 2 (< 1e-5)."""
    torch.manual_seed(0)
    fa = FrameAveragedEncoder(ResNet18Encoder(width=8, num_kp=8, feature_dim=16), N=8)
    images = torch.rand(3, 3, 76, 76, generator=generator)
    errors = frame_averaging_errors(fa, images)
    assert errors["rot90"] < 1e-5, errors
    assert errors["rot90_wrong_direction"] > 1e-3, errors
    # 45 degrees is only approximate (bilinear interpolation, cut corners); reported, not exact.
    assert errors["rot45"] > errors["rot90"]
    # Without FA the CNN is not equivariant at all.
    cnn = fa.encoder.eval()
    plain = cnn(images)
    from symlab.groups import rotate_image_90
    from symlab.policy import roll_regular

    err = (cnn(rotate_image_90(images, 1)) - roll_regular(plain, 2, 8)).abs().max()
    assert err / plain.abs().max() > 1e-2


def test_escnn_encoder_is_c8_equivariant(generator):
    """Acceptance: the escnn encoder is C8-equivariant for 90-degree rotations (< 1e-4)."""
    torch.manual_seed(0)
    enc = EquivariantResEncoder(3, widths=(1, 1, 1, 2), n_out=2, N=8)
    images = torch.rand(2, 3, 76, 76, generator=generator)
    assert enc.eval()(images).shape == (2, 16)
    errors = equivariant_encoder_errors(enc, images)
    assert errors["rot90"] < 1e-4, errors
    with pytest.raises(ValueError, match="76x76"):
        enc(torch.rand(1, 3, 84, 84))
