"""A layer library in PyTorch's shape on NumPy arrays, with explicit backward passes.

    import fastconv.nn as nn
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(6 * 14 * 14, 10))
    loss = criterion(model(x), y)          # a float
    model.backward(criterion.backward())   # gradients accumulate into p.grad
"""
from . import init
from ._backend import set_backend, get_backend, use_backend
from .init import manual_seed
from .module import Module, Parameter, Sequential, Identity, StateDictError
from .layers import (Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, MaxPool1d, MaxPool2d,
                     AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d,
                     AdaptiveMaxPool1d, AdaptiveMaxPool2d, BatchNorm1d, BatchNorm2d,
                     BatchNorm3d, LPPool1d, LPPool2d, ReLU, Sigmoid, Tanh, Softmax, LogSoftmax,
                     Flatten, Linear, Dropout, Unfold, Fold, MaxUnpool1d, MaxUnpool2d,
                     Conv3d, ConvTranspose3d, MaxPool3d, AvgPool3d, AdaptiveAvgPool3d,
                     AdaptiveMaxPool3d, MaxUnpool3d)
from .loss import CrossEntropyLoss, MSELoss
from .summary import summary

__all__ = [
    "Module", "Parameter", "Sequential", "Identity", "StateDictError",
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
    "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LPPool1d", "LPPool2d",
    "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Flatten", "Linear", "Dropout",
    "Unfold", "Fold", "MaxUnpool1d", "MaxUnpool2d", "CrossEntropyLoss", "MSELoss",
    "Conv3d", "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool3d", "MaxUnpool3d",
    "summary", "manual_seed", "init", "set_backend", "get_backend", "use_backend",
]
