from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 4

@test_case(points=0, hidden=False)
def test_q2_double_conv_has_the_six_layers_in_order(double_conv):
    from torch import nn
    block = double_conv(3, 5)
    assert isinstance(block, nn.Sequential), f'double_conv must return an nn.Sequential, got {type(block).__name__}'
    kinds = [type(layer).__name__ for layer in block]
    expected = ['Conv2d', 'BatchNorm2d', 'ReLU', 'Conv2d', 'BatchNorm2d', 'ReLU']
    assert kinds == expected, f'double_conv(3, 5) has the layers {kinds}, expected {expected}'
    for conv, channels in ((block[0], (3, 5)), (block[3], (5, 5))):
        got = (conv.in_channels, conv.out_channels)
        assert got == channels, f'a convolution of double_conv(3, 5) maps {got[0]} to {got[1]} channels, expected {channels[0]} to {channels[1]}'
        assert conv.kernel_size == (3, 3) and conv.padding == (1, 1), f'the convolutions are 3x3 with padding=1, got kernel_size={conv.kernel_size}, padding={conv.padding}'
        assert conv.bias is None, 'the convolutions take bias=False (the BatchNorm after each subtracts the mean)'
    assert block[1].num_features == block[4].num_features == 5, 'each BatchNorm2d gets out_channels features'

@test_case(points=0, hidden=False)
def test_q2_unet_maps_images_to_one_logit_per_class_and_pixel(UNet):
    import torch
    with torch.random.fork_rng(devices=[]):
        net = UNet(in_channels=1, out_channels=4, init_features=4)
        with torch.no_grad():
            out = net(torch.rand(2, 1, 64, 64))
    assert out.shape == (2, 4, 64, 64), f'expected output shape (2, 4, 64, 64), got {tuple(out.shape)}'
    assert (out < 0).any(), "no output is negative, so these are not logits: return the final 1x1 convolution's output, with no sigmoid or softmax"

@test_case(points=0, hidden=False)
def test_q2_unet_has_exactly_486436_parameters(UNet):
    import torch
    with torch.random.fork_rng(devices=[]):
        n = sum((p.numel() for p in UNet(in_channels=1, out_channels=4, init_features=8).parameters()))
    assert n == 486436, f'expected 486,436 parameters, got {n:,}: check the layers of double_conv'

