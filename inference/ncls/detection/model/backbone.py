"""The convolutional backbone: a torchvision ResNet cut at strides 8, 16 and 32."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet
from torchvision.models._utils import IntermediateLayerGetter


class Backbone(nn.Module):
    """torchvision ResNet (never pretrained weights) returning strides 8, 16, 32."""

    def __init__(self, name: str) -> None:
        super().__init__()
        net: resnet.ResNet
        if name == "resnet50":
            net = resnet.resnet50(weights=None)
            self.channels = [512, 1024, 2048]
        elif name == "resnet18":
            net = resnet.resnet18(weights=None)
            self.channels = [128, 256, 512]
        elif name == "resnet10":
            net = resnet.ResNet(resnet.BasicBlock, [1, 1, 1, 1])
            self.channels = [128, 256, 512]
        else:
            raise ValueError(f"unknown backbone {name!r}")
        self.body = IntermediateLayerGetter(net, {"layer2": "0", "layer3": "1", "layer4": "2"})

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = self.body(x)
        return [out["0"], out["1"], out["2"]]
