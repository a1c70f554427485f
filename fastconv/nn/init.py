"""Parameter initialisation as ``torch.nn.init``, drawing from a seedable generator.

All layers draw from the module-level generator unless given their own ``rng=``;
``manual_seed(s)`` makes model construction and dropout masks reproducible.
"""
import math

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Reseed the generator every layer draws from by default (like ``torch.manual_seed``)."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator():
    return _generator


def get_generator(rng=None):
    """``rng`` as a ``numpy.random.Generator``: None -> the module-level one, int -> seeded."""
    if rng is None:
        return _generator
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, "
                    f"got {type(rng).__name__}")


def _array(t):
    return t.data if hasattr(t, "data") and isinstance(t.data, np.ndarray) else t


def calculate_gain(nonlinearity, param=None):
    """Recommended gain for ``nonlinearity``, as ``torch.nn.init.calculate_gain``."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
              "conv_transpose2d", "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(t):
    """(fan_in, fan_out) of a weight shaped like PyTorch's (dim 1 is fan-in, dim 0 fan-out)."""
    shape = np.shape(_array(t))
    if len(shape) < 2:
        raise ValueError("fan in and fan out need a tensor with at least 2 dimensions")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def uniform_(t, a=0.0, b=1.0, rng=None):
    arr = _array(t)
    arr[...] = get_generator(rng).uniform(a, b, size=arr.shape)
    return t


def normal_(t, mean=0.0, std=1.0, rng=None):
    arr = _array(t)
    arr[...] = get_generator(rng).normal(mean, std, size=arr.shape)
    return t


def constant_(t, val):
    _array(t)[...] = val
    return t


def zeros_(t):
    return constant_(t, 0)


def ones_(t):
    return constant_(t, 1)


def _fan(t, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return fan_in if mode == "fan_in" else fan_out


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    fan = _fan(t, mode)
    if fan == 0:
        return t  # PyTorch warns and leaves a zero-element tensor alone
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(t, -bound, bound, rng)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    fan = _fan(t, mode)
    if fan == 0:
        return t
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), rng)


def xavier_uniform_(t, gain=1.0, rng=None):
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, rng)


def xavier_normal_(t, gain=1.0, rng=None):
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)
