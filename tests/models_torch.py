"""Small PyTorch models shared by the tests (each builds in milliseconds)."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """The seed MLP: 784 -> 128 -> 10 with a flattening forward (101,770 params)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.size(0), -1)
        return self.fc2(self.relu(self.fc1(x)))


class SmallCNN(nn.Module):
    """Conv -> BatchNorm -> ReLU -> MaxPool -> Flatten -> Linear, on (1, 28, 28)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8 * 14 * 14, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.act(self.bn(self.conv(x))))))


class ResidualBlock(nn.Module):
    """Two convolutions with an ``out + x`` skip connection."""

    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.conv1(x)))
        return out + x


class ResNetTiny(nn.Module):
    """stem -> residual block -> global pool -> head; the block is nested (``block.conv1``)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.block = ResidualBlock(4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.block(self.stem(x)))
        return self.head(torch.flatten(x, 1))


class TwoBranch(nn.Module):
    """Two inputs, two branches merged by ``torch.cat``."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(5, 4)
        self.head = nn.Linear(8, 2)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.a(left), self.b(right)], dim=1))


def transformer() -> nn.TransformerEncoder:
    """2 encoder layers, d_model 16, 2 heads, batch first: input (batch, 5, 16)."""
    layer = nn.TransformerEncoderLayer(
        d_model=16, nhead=2, dim_feedforward=32, dropout=0.1, batch_first=True
    )
    return nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)


class DataDependent(nn.Module):
    """Python control flow on tensor values: neither torch.export nor torch.fx can trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        if h.sum() > 0:
            h = torch.relu(h)
        return self.fc2(h)


class Scaled(nn.Module):
    """A container with its own parameter (``self.scale``) beside a child layer."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 3)
        self.scale = nn.Parameter(torch.ones(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) * self.scale


class WithScaledBlock(nn.Module):
    """``Scaled`` nested one level down, so its parameter holder is ``block``."""

    def __init__(self) -> None:
        super().__init__()
        self.block = Scaled()
        self.out = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.block(x))


class TiedLM(nn.Module):
    """Embedding and output projection share one weight (weight tying)."""

    def __init__(self, vocab: int = 20, dim: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.proj = nn.Linear(dim, dim)
        self.decoder = nn.Linear(dim, vocab, bias=False)
        self.decoder.weight = self.embed.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.tanh(self.proj(self.embed(tokens))))


class Mystery(nn.Module):
    """A leaf module of a class torch.nn does not know, with a parameter."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.full((n,), 2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain


class WithMystery(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.mystery = Mystery(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mystery(self.fc(x))


class LSTMClassifier(nn.Module):
    """Embedding -> LSTM -> last step -> Linear (a multi-output module, then getitem)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(30, 8)
        self.lstm = nn.LSTM(8, 12, batch_first=True)
        self.fc = nn.Linear(12, 3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(tokens))
        return self.fc(out[:, -1])


class WithUnused(nn.Module):
    """``spare`` has parameters but forward never calls it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.spare = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class Upsampler(nn.Module):
    """ConvTranspose2d with groups: its weight is stored (in, out/groups, kH, kW)."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 6, kernel_size=2, stride=2, groups=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(x)
