"""The U-Net of HW2, with the architecture of the widely used brain-segmentation U-Net (Buda et al., 2019).

Four levels of [3x3 conv (no bias) -> BatchNorm -> ReLU] x 2 with 2x2 max pooling, a bottleneck with 16x the
initial features, 2x2 transposed convolutions going up, skip connections by concatenation, and a 1x1 output
convolution. With ``in_channels=1, out_channels=4, init_features=4`` it has 122,036 parameters.

Unlike the original it returns **logits** (no sigmoid): ``nn.CrossEntropyLoss`` applies log-softmax itself.
This is the instructor's reference; the homework asks students to write ``double_conv`` and ``forward``.
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import as_image_batch, check_positive_int


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """[3x3 conv (padding 1, no bias) -> BatchNorm -> ReLU] twice; keeps the spatial size."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net for semantic segmentation: (N, in_channels, H, W) -> logits (N, out_channels, H, W).

    H and W must be divisible by 16 (four 2x2 poolings)."""

    def __init__(self, in_channels: int = 1, out_channels: int = 4, init_features: int = 4):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("init_features", init_features)):
            check_positive_int(value, name)
        self.in_channels = in_channels
        f = init_features
        self.encoder1 = double_conv(in_channels, f)
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.encoder2 = double_conv(f, 2 * f)
        self.pool2 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.encoder3 = double_conv(2 * f, 4 * f)
        self.pool3 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.encoder4 = double_conv(4 * f, 8 * f)
        self.pool4 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.bottleneck = double_conv(8 * f, 16 * f)
        self.upconv4 = nn.ConvTranspose2d(16 * f, 8 * f, kernel_size=2, stride=2)
        self.decoder4 = double_conv(16 * f, 8 * f)  # 8f from upconv4 + 8f from encoder4
        self.upconv3 = nn.ConvTranspose2d(8 * f, 4 * f, kernel_size=2, stride=2)
        self.decoder3 = double_conv(8 * f, 4 * f)
        self.upconv2 = nn.ConvTranspose2d(4 * f, 2 * f, kernel_size=2, stride=2)
        self.decoder2 = double_conv(4 * f, 2 * f)
        self.upconv1 = nn.ConvTranspose2d(2 * f, f, kernel_size=2, stride=2)
        self.decoder1 = double_conv(2 * f, f)
        self.conv = nn.Conv2d(f, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_image_batch(x, "x", channels=self.in_channels)
        if x.shape[-1] % 16 or x.shape[-2] % 16:
            raise ValueError(f"U-Net input height and width must be divisible by 16, got {tuple(x.shape[-2:])}")
        enc1 = self.encoder1(x)
        enc2 = self.encoder2(self.pool1(enc1))
        enc3 = self.encoder3(self.pool2(enc2))
        enc4 = self.encoder4(self.pool3(enc3))
        bottleneck = self.bottleneck(self.pool4(enc4))
        dec4 = self.decoder4(torch.cat([self.upconv4(bottleneck), enc4], dim=1))
        dec3 = self.decoder3(torch.cat([self.upconv3(dec4), enc3], dim=1))
        dec2 = self.decoder2(torch.cat([self.upconv2(dec3), enc2], dim=1))
        dec1 = self.decoder1(torch.cat([self.upconv1(dec2), enc1], dim=1))
        return self.conv(dec1)
