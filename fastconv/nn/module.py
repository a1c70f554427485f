"""``Parameter``, ``Module`` and ``Sequential``: PyTorch's module protocol on NumPy arrays.

A module's ``forward`` runs the layer; in training mode it keeps exactly what its ``backward``
needs (one forward's worth: the next forward replaces it, ``backward`` releases it).  In
``eval()`` mode nothing is kept, so ``backward`` needs a training-mode forward first.
"""
import collections
import itertools

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype):
    """The parameter dtype for a constructor's ``dtype=`` (None -> float32)."""
    if dtype is None:
        return np.dtype(np.float32)
    name = getattr(dtype, "name", None) if not isinstance(dtype, (str, type, np.dtype)) else None
    if name is None and hasattr(dtype, "is_floating_point"):  # a torch.dtype, e.g. torch.float64
        name = str(dtype).replace("torch.", "")
    try:
        dt = np.dtype(name if name is not None else dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def check_device(device):
    if device is not None and str(device) != "cpu":
        raise ValueError(f"fastconv runs on the CPU only, got device={device!r}")


def to_numpy(value):
    """An ndarray from an ndarray, a scalar, or a torch tensor (so a torch state_dict loads)."""
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


class Parameter:
    """A trainable array: ``.data`` (ndarray) and ``.grad`` (ndarray or ``None``)."""

    def __init__(self, data, requires_grad=True):
        self.data = np.array(to_numpy(data), copy=True, order="C")
        self.grad = None
        self.requires_grad = bool(requires_grad)

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def numel(self):
        return int(self.data.size)

    def numpy(self):
        return self.data

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = bool(requires_grad)
        return self

    def zero_grad_(self, set_to_none=True):
        """Drop the gradient (``set_to_none``) or zero it in place (keeps its buffer)."""
        if self.grad is None:
            return
        if set_to_none:
            self.grad = None
        else:
            self.grad[...] = 0

    def __repr__(self):
        return f"Parameter containing:\n{self.data!r}"


def accumulate_grad(param, grad):
    """``param.grad += grad`` (the array becomes the grad when there is none yet)."""
    if grad is None or param is None or not param.requires_grad:
        return
    if param.grad is None:
        param.grad = grad
    else:
        param.grad += grad


class StateDictError(ValueError, RuntimeError):
    """A state dict does not fit the model (ValueError per the contract, RuntimeError as in
    PyTorch, so either ``except`` works)."""


_IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class RemovableHandle:
    def __init__(self, hooks, key):
        self._hooks, self._key = hooks, key

    def remove(self):
        self._hooks.pop(self._key, None)


_hook_ids = itertools.count()


class Module:
    """Base class of every layer and model, with PyTorch's bookkeeping.

    Subclasses define ``forward(x)`` and ``backward(grad_output)``; the latter returns the
    gradient for the input and adds (``+=``) the parameter gradients into ``.grad``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_saved", None)

    # --- attribute registration -------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("call Module.__init__() before assigning attributes")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            buffers.pop(name, None)
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(a Parameter or None is required)")
            params[name] = None
        elif name in buffers:
            buffers[name] = None if value is None else np.asarray(value)
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"{name!r} (a Module or None is required)")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter {name!r}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name, array, persistent=True):
        self.__dict__.pop(name, None)
        self._buffers[name] = None if array is None else np.asarray(array)
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    # --- running ------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not define backward()")

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_hook(self, hook):
        """``hook(module, inputs, output)`` runs after every forward; returns a handle."""
        key = next(_hook_ids)
        self._forward_hooks[key] = hook
        return RemovableHandle(self._forward_hooks, key)

    def _save(self, *values):
        """Keep what backward needs, in training mode only (eval() keeps nothing)."""
        object.__setattr__(self, "_saved", values if self.training else None)

    def _take(self):
        """What the last training-mode forward kept (released: one backward per forward)."""
        saved = self._saved
        if saved is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() needs a forward() in training mode first "
                "(modules in eval() mode keep nothing for backward; call model.train())")
        object.__setattr__(self, "_saved", None)
        return saved

    # --- traversal ----------------------------------------------------------------------------
    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self.named_children():
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name,
                                       remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, v in getattr(m, store).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # --- modes and gradients --------------------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
            if not mode:
                object.__setattr__(m, "_saved", None)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            p.zero_grad_(set_to_none)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # --- dtype ----------------------------------------------------------------------------
    def to(self, dtype=None, device=None):
        """Convert every parameter, gradient and floating buffer to ``dtype`` (in place)."""
        check_device(device)
        if dtype is None:
            return self
        dt = float_dtype(dtype)
        for m in self.modules():
            for p in m._parameters.values():
                if p is None:
                    continue
                p.data = p.data.astype(dt, copy=False)
                if p.grad is not None:
                    p.grad = p.grad.astype(dt, copy=False)
            for k, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f":
                    m._buffers[k] = b.astype(dt, copy=False)
            object.__setattr__(m, "_saved", None)
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # --- state dict -----------------------------------------------------------------------
    def _optional_state_keys(self):
        """Local keys a state dict may omit (PyTorch fills some in, e.g. num_batches_tracked)."""
        return ()

    def _state_entries(self, prefix=""):
        """(key, owner module, local name, kind) for every persistent entry, in PyTorch's order."""
        for mod_prefix, m in self.named_modules(prefix=prefix.rstrip(".")):
            dot = mod_prefix + ("." if mod_prefix else "")
            for name, p in m._parameters.items():
                if p is not None:
                    yield dot + name, m, name, "_parameters"
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    yield dot + name, m, name, "_buffers"

    def state_dict(self, prefix=""):
        """Parameters and persistent buffers by PyTorch's key names (copies)."""
        out = collections.OrderedDict()
        for key, m, name, kind in self._state_entries(prefix):
            v = getattr(m, kind)[name]
            out[key] = np.array(v.data if kind == "_parameters" else v, copy=True)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy ``state_dict``'s arrays in, cast to each entry's dtype.

        Shapes must match.  With ``strict`` any missing or unexpected key is an error too;
        the error names every offending key.  Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"expected a dict-like state_dict, got {type(state_dict).__name__}")
        entries = list(self._state_entries())
        expected = {key for key, *_ in entries}
        missing, mismatched, bad_type, updates = [], [], [], []
        for key, m, name, kind in entries:
            if key not in state_dict:
                if name not in m._optional_state_keys():
                    missing.append(key)
                continue
            current = getattr(m, kind)[name]
            cur = current.data if kind == "_parameters" else current
            try:
                value = to_numpy(state_dict[key])
            except Exception as e:  # noqa: BLE001 - reported with its key below
                bad_type.append(f"{key}: {e}")
                continue
            if value.dtype.kind not in "biuf":
                bad_type.append(f"{key}: expected a numeric array, got dtype {value.dtype}")
                continue
            if value.shape != cur.shape:
                mismatched.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{tuple(value.shape)} from checkpoint, the shape in current "
                                  f"model is {tuple(cur.shape)}.")
                continue
            updates.append((cur, value))
        unexpected = [k for k in state_dict.keys() if k not in expected]
        errors = mismatched + bad_type
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                                 + "\n\t".join(errors))
        # Copy in place only once everything has been checked, so a failed load changes nothing.
        for cur, value in updates:
            np.copyto(cur, value, casting="unsafe")
        return _IncompatibleKeys(missing, unexpected)

    # --- printing -------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        head = type(self).__name__ + "(" + self.extra_repr()
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied in order; ``backward`` runs them in reverse."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], collections.OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def backward(self, grad_output):
        for m in reversed(list(self._modules.values())):
            grad_output = m.backward(grad_output)
        return grad_output

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(collections.OrderedDict(list(self._modules.items())[idx]))
        keys = list(self._modules)
        try:
            return self._modules[keys[idx]]
        except IndexError:
            raise IndexError(f"index {idx} is out of range for a Sequential of "
                             f"{len(keys)} modules") from None

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self


class Identity(Module):
    """Returns its input (a placeholder layer, as ``torch.nn.Identity``)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x

    def backward(self, grad_output):
        return grad_output
