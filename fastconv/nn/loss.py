"""Losses: ``loss = criterion(logits, target)`` is a float, ``criterion.backward()`` the
gradient with respect to ``logits`` (for ``reduction="none"``, of the sum unless given the
upstream gradient)."""
import numpy as np

from .layers import log_softmax
from .module import Module, to_numpy

__all__ = ["CrossEntropyLoss", "MSELoss"]


def _check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def _float_input(name, x):
    x = to_numpy(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: input must be float32 or float64, got {x.dtype}")
    return x


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction(reduction)
        self._pending = None

    def extra_repr(self):
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""

    def _upstream(self, grad, shape, dtype):
        """The gradient of the final loss with respect to this loss's output."""
        if grad is None:
            return None if self.reduction != "none" else np.ones(shape, dtype)
        g = np.asarray(grad, dtype=dtype)
        if self.reduction != "none":
            if g.ndim:
                raise ValueError("backward(grad) expects a scalar for "
                                 f"reduction={self.reduction!r}")
            return g
        return np.broadcast_to(g, shape)

    def _take_pending(self):
        if self._pending is None:
            raise RuntimeError(f"{type(self).__name__}.backward() needs a call to the loss first")
        pending, self._pending = self._pending, None
        return pending


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on logits, as ``torch.nn.CrossEntropyLoss``.

    ``target``: class indices (any integer dtype; shape of the input without the class dim) or
    class probabilities (float, the input's shape).  ``weight``, ``ignore_index``,
    ``reduction`` and ``label_smoothing`` behave as in PyTorch.
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        if size_average is not None or reduce is not None:
            raise ValueError("size_average and reduce are deprecated in PyTorch; "
                             "use reduction='mean'|'sum'|'none'")
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
        self.weight = None if weight is None else to_numpy(weight).astype(np.float64)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):
        x = _float_input("CrossEntropyLoss", input)
        t = to_numpy(target)
        unbatched = x.ndim == 1
        if unbatched:
            x, t = x[None], t[None]
        if x.ndim < 2:
            raise ValueError(f"CrossEntropyLoss: expected input of shape (C,), (N, C) or "
                             f"(N, C, d1, ...), got {np.shape(input)}")
        dt = x.dtype
        n_classes = x.shape[1]
        # Classes last, one row per sample: the loss is -sum(A * log_softmax) row by row.
        z = np.moveaxis(x, 1, -1).reshape(-1, n_classes)
        logp = log_softmax(z, 1)
        w = None
        if self.weight is not None:
            if self.weight.shape != (n_classes,):
                raise ValueError(f"CrossEntropyLoss: weight has shape {self.weight.shape}, "
                                 f"expected ({n_classes},)")
            w = self.weight.astype(dt)
        eps = dt.type(self.label_smoothing)
        if t.dtype.kind in "iu":
            expected = x.shape[:1] + x.shape[2:]
            if t.shape != expected:
                raise ValueError(f"CrossEntropyLoss: target shape {np.shape(target)} does not "
                                 f"match input shape {np.shape(input)} (expected {expected} "
                                 "class indices)")
            t = t.reshape(-1).astype(np.int64)
            valid = t != self.ignore_index
            bad = valid & ((t < 0) | (t >= n_classes))
            if bad.any():
                raise ValueError(f"CrossEntropyLoss: target {t[bad][0]} is out of bounds for "
                                 f"{n_classes} classes")
            tc = np.where(valid, t, 0)
            wt = (w[tc] if w is not None else np.ones(len(t), dt)) * valid
            rows = np.arange(len(t))
            a = np.zeros(z.shape, dt)
            a[rows, tc] = (1 - eps) * wt
            if eps:
                a += (eps / n_classes) * (w if w is not None else dt.type(1)) * valid[:, None]
            denom = wt.sum()
        elif t.dtype.kind == "f":
            if t.shape != x.shape:
                raise ValueError(f"CrossEntropyLoss: probability target shape "
                                 f"{np.shape(target)} must equal input shape {np.shape(input)}")
            a = np.moveaxis(t.astype(dt), 1, -1).reshape(-1, n_classes)
            if eps:
                a = a * (1 - eps) + eps / n_classes
            if w is not None:
                a = a * w
            denom = dt.type(len(a))
        else:
            raise TypeError("CrossEntropyLoss: target must be integer class indices or float "
                            f"class probabilities, got dtype {t.dtype}")
        per_sample = -np.einsum("ij,ij->i", a, logp)
        out_shape = () if unbatched else x.shape[:1] + x.shape[2:]
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.reduction == "mean":
                scale, loss = dt.type(1) / denom, float(per_sample.sum() / denom)
            elif self.reduction == "sum":
                scale, loss = dt.type(1), float(per_sample.sum())
            else:
                scale, loss = None, per_sample.reshape(out_shape)
        self._pending = (logp, a, scale, x.shape, unbatched, out_shape)
        return loss

    def backward(self, grad=None):
        logp, a, scale, shape, unbatched, out_shape = self._take_pending()
        dt = logp.dtype
        g = self._upstream(grad, out_shape, dt)
        # d/dz of -sum_c a_c log_softmax(z)_c = softmax(z) * sum_c a_c - a
        dz = np.exp(logp) * a.sum(axis=1, keepdims=True) - a
        if self.reduction == "none":
            dz *= g.reshape(-1, 1)
        else:
            dz *= scale if g is None else scale * g
        dz = np.moveaxis(dz.reshape(shape[:1] + shape[2:] + shape[1:2]), -1, 1)
        dz = np.ascontiguousarray(dz)
        return dz[0] if unbatched else dz


class MSELoss(_Loss):
    """Mean squared error, as ``torch.nn.MSELoss``."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        if size_average is not None or reduce is not None:
            raise ValueError("size_average and reduce are deprecated in PyTorch; "
                             "use reduction='mean'|'sum'|'none'")
        super().__init__(reduction)

    def forward(self, input, target):
        x = _float_input("MSELoss", input)
        t = to_numpy(target)
        if t.shape != x.shape:
            raise ValueError(f"MSELoss: target shape {t.shape} must equal input shape {x.shape}")
        diff = x - t.astype(x.dtype, copy=False)
        sq = np.square(diff)
        if self.reduction == "mean":
            loss, scale = float(sq.mean()) if sq.size else float("nan"), 2 / max(sq.size, 1)
        elif self.reduction == "sum":
            loss, scale = float(sq.sum()), 2
        else:
            loss, scale = sq, 2
        self._pending = (diff, x.dtype.type(scale))
        return loss

    def backward(self, grad=None):
        diff, scale = self._take_pending()
        g = self._upstream(grad, diff.shape, diff.dtype)
        out = diff * scale
        if g is not None:
            out *= g
        return out
