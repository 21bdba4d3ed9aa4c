"""Example models for ``spectra jacobian --model experiments/jacobian_models.py:FACTORY``.

Each factory takes no argument and returns an ``nn.Module`` (put in eval mode by the CLI):

- ``vanilla_cnn``: a zero-padded vanilla CNN, 3 -> 16 channels, 3 x 3 convs + tanh, a
  stride-2 conv, average pooling, Flatten and a Linear head (input 3 x 16 x 16).
- ``small_resnet``: a small ResNet (stem, two residual stages with BatchNorm, a stride-2
  stage, average pooling, Linear head), as ``nn.Sequential`` so that ``--method stable``
  pushes it stage by stage and ``--output layer2`` names a stage (input 3 x 16 x 16).
  BatchNorm running statistics are set from a deterministic draw, as after training.

    spectra jacobian --model experiments/jacobian_models.py:small_resnet \\
        --input-shape 3,16,16 --method auto --out results/jacobian_resnet
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


class BasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus the skip (a strided 1 x 1 conv + BN where shapes change)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.skip(x))


def _set_bn_stats(model: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
    return model.eval()


def vanilla_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, 16, 3, padding=1),
            act1=nn.Tanh(),
            conv2=nn.Conv2d(16, 16, 3, padding=1),
            act2=nn.Tanh(),
            down=nn.Conv2d(16, 16, 3, stride=2, padding=1),
            act3=nn.Tanh(),
            pool=nn.AvgPool2d(2),
            flatten=nn.Flatten(),
            head=nn.Linear(16 * 4 * 4, 10),
        )
    ).eval()


def small_resnet() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        OrderedDict(
            stem=nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)),
            relu=nn.ReLU(),
            layer1=BasicBlock(8, 8),
            layer2=BasicBlock(8, 16, stride=2),
            pool=nn.AvgPool2d(2),
            flatten=nn.Flatten(),
            head=nn.Linear(16 * 4 * 4, 10),
        )
    )
    return _set_bn_stats(model, 1)
