"""The reference U-Net against the paper: sizes, parameter counts, initialisation, errors."""

import math

import pytest
import torch

from solutions.unet import DoubleConv, Down, UNet, Up
from unet_tp.unet_base import _mirror_pad, predict_overlap_tile


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.slow
def test_paper_network_572_to_388_and_parameter_counts():
    net = UNet(in_channels=1, num_classes=2, padding=False)
    assert n_params(net) == 31_030_658
    with torch.no_grad():
        assert net(torch.zeros(1, 1, 572, 572)).shape == (1, 2, 388, 388)
    assert n_params(UNet(in_channels=4, num_classes=4, padding=False)) == 31_032_516


def test_channels_double_down_and_halve_up():
    net = UNet(in_channels=4, num_classes=4, base_channels=64, padding=False)
    assert [d.conv.block[0].out_channels for d in net.downs] == [128, 256, 512, 1024]
    assert [u.up.out_channels for u in net.ups] == [512, 256, 128, 64]
    assert net.outc.conv.kernel_size == (1, 1)


def test_blocks_follow_figure_1():
    x = torch.zeros(1, 64, 136, 136)
    assert DoubleConv(64, 64)(x).shape == (1, 64, 132, 132)  # two unpadded 3x3 convs: -4
    assert Down(64, 128)(x).shape == (1, 128, 64, 64)  # pool /2 then -4
    up = Up(128, 64)
    out = up(torch.zeros(1, 128, 28, 28), torch.zeros(1, 64, 64, 64))  # skip cropped 64 -> 56
    assert out.shape == (1, 64, 52, 52)


def test_padded_network_keeps_size_and_options():
    net = UNet(base_channels=8, depth=3, padding=True, batch_norm=True)
    with torch.no_grad():
        assert net(torch.zeros(2, 4, 240, 240)).shape == (2, 4, 240, 240)
        assert net(torch.zeros(1, 4, 100, 84)).shape == (1, 4, 100, 84)  # not a multiple of 8
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert n_params(UNet(base_channels=16)) < n_params(UNet(base_channels=32)) / 3


def test_he_normal_initialisation():
    torch.manual_seed(0)
    net = UNet(base_channels=64, padding=False)
    conv = net.downs[2].conv.block[0]  # 256 -> 512, fan_in 256 * 9
    std = conv.weight.std().item()
    assert std == pytest.approx(math.sqrt(2 / (256 * 9)), rel=0.03)
    assert conv.bias.abs().max().item() == 0


def test_clear_errors_for_bad_inputs():
    net = UNet(in_channels=4, base_channels=4, padding=False)
    with pytest.raises(ValueError, match="built for 4 input channels but got 3"):
        net(torch.zeros(1, 3, 572, 572))
    with pytest.raises(
        ValueError, match=r"cannot take an input of size 240.*Nearest valid sizes: 236 or 252"
    ):
        net(torch.zeros(1, 4, 240, 240))
    assert net.output_size(236) == 52 and net.output_size(252) == 68


@pytest.mark.slow
def test_overlap_tile_gives_a_whole_prediction():
    torch.manual_seed(0)
    net = UNet(base_channels=4, padding=False).eval()
    image = torch.randn(2, 4, 240, 240)
    out = predict_overlap_tile(net, image)
    assert out.shape == (2, 4, 240, 240) and torch.isfinite(out).all()
    tiled = predict_overlap_tile(net, image, tile=100)  # 3x3 tiles of 100 (valid: 116 out)
    assert tiled.shape == (2, 4, 240, 240)
    # a tile's output depends only on its mirror-padded window: the first tile equals the net
    # applied to that window directly
    in_tile = net.input_size_for(100)
    tile = net.output_size(in_tile)
    assert (in_tile - tile) // 2 == 92
    window = _mirror_pad(image, 92, 92, 92, 92)[..., :in_tile, :in_tile]
    with torch.no_grad():
        torch.testing.assert_close(tiled[..., :tile, :tile], net(window))


def test_a_unet_that_stores_its_arguments_as_most_tutorials_do():
    """``self.in_channels = in_channels`` (and ``self.widths = ...``) in a student's __init__:
    "property 'in_channels' of 'UNet' object has no setter" on both sides (honest round 20)."""
    from unet_tp.unet_base import UNetBase

    net = UNetBase(in_channels=4, base_channels=8, depth=2)
    net.in_channels = 4
    net.widths = [8, 16, 32]
    assert net.in_channels == 4 and net.config["in_channels"] == 4
    with pytest.raises(ValueError, match=r"computes the widths from base_channels and depth"):
        net.widths = [8, 16, 64]


def test_overlap_tile_takes_any_model_that_keeps_the_size():
    """A predict built on predict_overlap_tile (Going further 2) met the checks' small network,
    an nn.Sequential: "'Sequential' object has no attribute 'config'" on both sides."""
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 3, 3, padding=1))
    x = torch.randn(2, 4, 6, 6)
    assert torch.equal(predict_overlap_tile(net, x), net(x))
