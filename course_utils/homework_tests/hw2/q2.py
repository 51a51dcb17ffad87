from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 4

@test_case(points=0, hidden=False)
def test_q2_unet_maps_images_to_one_logit_per_class_and_pixel(UNet):
    import torch
    net = UNet(in_channels=1, out_channels=4, init_features=4)
    out = net(torch.rand(2, 1, 64, 64))
    assert out.shape == (2, 4, 64, 64), f'expected output shape (2, 4, 64, 64), got {tuple(out.shape)}'

@test_case(points=0, hidden=False)
def test_q2_unet_has_exactly_486436_parameters(UNet):
    n = sum((p.numel() for p in UNet(in_channels=1, out_channels=4, init_features=8).parameters()))
    assert n == 486436, f'expected 486,436 parameters, got {n:,}: check the layers of double_conv'

