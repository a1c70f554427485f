"""Helpers shared by the fastconv.nn tests: the backend fixture, tolerances, model builders."""
import numpy as np
import pytest

import fastconv.nn as fnn
from fastconv import _kernels


def _missing(name):
    """Why backend ``name`` cannot run the layers yet (None when it can)."""
    try:
        with fnn.use_backend(name):
            ops = fnn._backend.ops
            x = np.ones((1, 1, 2, 2))
            ops.conv2d(x, np.ones((1, 1, 1, 1)))
            ops.conv_transpose2d(x, np.ones((1, 1, 1, 1)))
            ops.max_pool2d(x, 2)
            ops.avg_pool2d(x, 2)
            ops.adaptive_avg_pool2d(x, 1)
            ops.adaptive_max_pool2d(x, 1)
    except (ImportError, NotImplementedError) as e:
        return f"{name} backend not available yet: {e}"
    return None


# The C kernels on every ISA path this CPU has, and the NumPy reference.
BACKENDS = [("kernels", isa) for isa in _kernels.available_isas(include_test=True)] + [("reference", None)]


@pytest.fixture(params=BACKENDS, ids=lambda b: b[0] + (f"-{b[1]}" if b[1] else ""))
def backend(request):
    name, isa = request.param
    reason = _missing(name)
    if reason:
        pytest.skip(reason)
    before = _kernels.get_isa()
    if isa:
        _kernels.set_isa(isa)
    try:
        with fnn.use_backend(name):
            yield name
    finally:
        _kernels.set_isa(before)


def tol(dtype, n):
    """Error bound for sums of ``n`` rounded terms (a few units of eps per term)."""
    return 4 * n * np.finfo(dtype).eps


def assert_close(actual, expected, dtype, n, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    err = float(np.max(np.abs(actual - expected), initial=0.0))
    assert err <= tol(dtype, n) * scale, f"{what}: max error {err:.3g} > {tol(dtype, n) * scale:.3g}"


def lenet5(nn, **kw):
    """LeNet-5: tanh, average pooling, valid padding; 32x32x1 -> 10."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, **kw), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5, **kw), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(16, 120, 5, **kw), nn.Tanh(), nn.Flatten(),
        nn.Linear(120, 84, **kw), nn.Tanh(), nn.Linear(84, 10, **kw))


def keras_cifar10(nn, **kw):
    """The Keras CIFAR-10 example CNN: 32-32-64-64 filters, 'same', ReLU, max-pool, dropout."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding="same", **kw), nn.ReLU(),
        nn.Conv2d(32, 32, 3, **kw), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Conv2d(32, 64, 3, padding="same", **kw), nn.ReLU(),
        nn.Conv2d(64, 64, 3, **kw), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(64 * 6 * 6, 512, **kw), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(512, 10, **kw))


def tf_mnist(nn, **kw):
    """The TensorFlow MNIST CNN: 5x5 'same' conv 32 and 64, 2x2 max-pool, dense 1024, softmax."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding="same", **kw), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding="same", **kw), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 64, 1024, **kw), nn.ReLU(), nn.Dropout(0.4),
        nn.Linear(1024, 10, **kw), nn.Softmax(dim=1))


def mixed(nn, dropout, **kw):
    """Every layer type in one model: (N, 3, 10, 10) -> (N, 10)."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False, **kw), nn.BatchNorm2d(8, **kw), nn.ReLU(),
        nn.MaxPool2d(2),                                                    # 5x5
        nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1, **kw),  # 10x10
        nn.Sigmoid(), nn.AvgPool2d(2),                                      # 5x5
        nn.Conv2d(6, 8, 3, padding="same", padding_mode="reflect", **kw), nn.Tanh(),
        nn.AdaptiveMaxPool2d((4, 4)), nn.AdaptiveAvgPool2d(2),
        nn.Flatten(), dropout, nn.Linear(32, 10, **kw))
