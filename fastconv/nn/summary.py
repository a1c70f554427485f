"""``summary(model, input_shape)``: a Keras-style table of layers, output shapes and sizes."""
import sys

import numpy as np

__all__ = ["summary"]


def _shape_str(out):
    if isinstance(out, tuple):
        return ", ".join(_shape_str(o) for o in out)
    shape = np.shape(out)
    return "(" + ", ".join(["None"] + [str(s) for s in shape[1:]]) + ")"


def summary(model, input_shape, *, dtype=None, file=None):
    """Print each leaf layer's output shape and parameter count, and the totals.

    ``input_shape`` excludes the batch dimension, e.g. ``(1, 32, 32)`` for one 32x32 channel.
    One forward pass on zeros runs in eval mode (no statistics change, nothing is cached);
    the model's modes are restored afterwards.  Returns the total number of parameters.
    """
    shape = tuple(int(s) for s in (input_shape if np.ndim(input_shape) else (input_shape,)))
    if dtype is None:
        p = next(model.parameters(), None)
        dtype = p.dtype if p is not None else np.float32
    rows, handles = [], []
    for name, m in model.named_modules():
        if any(True for _ in m.children()):
            continue  # containers are accounted for by their leaves

        def hook(mod, inputs, out, name=name):
            n = sum(p.size for p in mod.parameters(recurse=False))
            rows.append((f"{name or 'model'} ({type(mod).__name__})", _shape_str(out), n))
        handles.append(m.register_forward_hook(hook))
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        model(np.zeros((1,) + shape, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    params = list(model.parameters())
    total = int(sum(p.size for p in params))
    trainable = int(sum(p.size for p in params if p.requires_grad))
    w0 = max([len("Layer (type)")] + [len(r[0]) for r in rows]) + 2
    w1 = max([len("Output Shape")] + [len(r[1]) for r in rows]) + 2
    w2 = max(len("Param #"), len(f"{total:,}")) + 1
    width = w0 + w1 + w2 + 1
    lines = [f'Model: "{type(model).__name__}"', "_" * width,
             f" {'Layer (type)':<{w0}}{'Output Shape':<{w1}}{'Param #':>{w2}}", "=" * width]
    for i, (label, out, n) in enumerate(rows):
        lines.append(f" {label:<{w0}}{out:<{w1}}{n:>{w2},}")
        lines.append("_" * width if i < len(rows) - 1 else "=" * width)
    if not rows:
        lines.append("=" * width)
    lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "_" * width]
    print("\n".join(lines), file=file or sys.stdout)
    return total
