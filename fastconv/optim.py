"""Optimisers with PyTorch's update rules, arguments and defaults: SGD, Adam, AdamW, RMSprop.

Parameters are updated in place in their own dtype; parameters whose ``.grad`` is ``None`` are
skipped.  ``params`` is an iterable of ``Parameter`` or of dicts (parameter groups), as in
PyTorch.
"""
import numpy as np

from .nn.module import Parameter

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop"]


def _check(cond, msg):
    if not cond:
        raise ValueError(msg)


class Optimizer:
    def __init__(self, params, defaults):
        if isinstance(params, Parameter):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Parameters or dicts, but got a Parameter")
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group):
        if not isinstance(group, dict):
            raise TypeError(f"param group must be a dict, got {type(group).__name__}")
        group = dict(group)
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"optimizer can only optimize Parameters, got "
                                f"{type(p).__name__}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = params
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group):
        _check(group["lr"] >= 0, f"Invalid learning rate: {group['lr']}")
        _check(group.get("weight_decay", 0) >= 0,
               f"Invalid weight_decay value: {group.get('weight_decay')}")

    def zero_grad(self, set_to_none=True):
        for g in self.param_groups:
            for p in g["params"]:
                p.zero_grad_(set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (re-evaluating the model and
        returning the loss) is called first when given, and its loss returned."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if g.shape != p.data.shape:
                    raise ValueError(f"gradient shape {g.shape} does not match parameter shape "
                                     f"{p.data.shape}")
                g = g.astype(p.data.dtype, copy=False)
                if group.get("maximize"):
                    g = -g
                self._update(p, g, group, self.state.setdefault(p, {}))
        return loss

    def _update(self, p, grad, group, state):
        raise NotImplementedError

    def state_dict(self):
        """State and hyper-parameters, parameters referred to by index (as PyTorch)."""
        index = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in g["params"]]
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError("loaded state dict has a different number of parameter groups "
                             "or parameters")
        params = [p for g in self.param_groups for p in g["params"]]
        self.state = {}
        for idx, s in state_dict["state"].items():
            p = params[int(idx)]
            self.state[p] = {k: (np.array(v, dtype=p.data.dtype) if isinstance(v, np.ndarray)
                                 and v.shape == p.data.shape else v) for k, v in s.items()}
        for mine, theirs in zip(self.param_groups, groups):
            mine.update({k: v for k, v in theirs.items() if k != "params"})

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, weight decay and Nesterov."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        _check(group["momentum"] >= 0, f"Invalid momentum value: {group['momentum']}")
        _check(not group["nesterov"] or (group["momentum"] > 0 and group["dampening"] == 0),
               "Nesterov momentum requires a momentum and zero dampening")

    def _update(self, p, grad, group, state):
        t = p.data.dtype.type
        if group["weight_decay"]:
            grad = grad + t(group["weight_decay"]) * p.data
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                # A copy: the gradient array keeps accumulating in later steps.
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= t(momentum)
                buf += t(1 - group["dampening"]) * grad
            grad = grad + t(momentum) * buf if group["nesterov"] else buf
        p.data -= t(group["lr"]) * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's bias correction, L2 weight decay and AMSGrad."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        _check(group["eps"] >= 0, f"Invalid epsilon value: {group['eps']}")
        for i, b in enumerate(group["betas"]):
            _check(0 <= b < 1, f"Invalid beta parameter at index {i}: {b}")

    def _decay(self, p, grad, group):
        if group["weight_decay"]:
            grad = grad + p.data.dtype.type(group["weight_decay"]) * p.data
        return grad

    def _update(self, p, grad, group, state):
        t = p.data.dtype.type
        grad = self._decay(p, grad, group)
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        step = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += t(1 - beta1) * (grad - m)  # lerp, as PyTorch computes it
        v *= t(beta2)
        v += t(1 - beta2) * (grad * grad)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = np.sqrt(v)
        denom /= t(bias_correction2_sqrt)
        denom += t(group["eps"])
        p.data -= t(group["lr"] / bias_correction1) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (``p *= 1 - lr * weight_decay`` before the step)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)

    def _decay(self, p, grad, group):
        p.data *= p.data.dtype.type(1 - group["lr"] * group["weight_decay"])
        return grad


class RMSprop(Optimizer):
    """RMSprop with PyTorch's defaults (alpha=0.99, eps=1e-8), momentum and centring."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        _check(group["eps"] >= 0, f"Invalid epsilon value: {group['eps']}")
        _check(group["momentum"] >= 0, f"Invalid momentum value: {group['momentum']}")
        _check(group["alpha"] >= 0, f"Invalid alpha value: {group['alpha']}")

    def _update(self, p, grad, group, state):
        t = p.data.dtype.type
        if group["weight_decay"]:
            grad = grad + t(group["weight_decay"]) * p.data
        alpha = group["alpha"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        sq = state["square_avg"]
        sq *= t(alpha)
        sq += t(1 - alpha) * (grad * grad)
        if group["centered"]:
            ga = state["grad_avg"]
            ga += t(1 - alpha) * (grad - ga)
            avg = np.sqrt(sq - ga * ga)
        else:
            avg = np.sqrt(sq)
        avg += t(group["eps"])
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= t(group["momentum"])
            buf += grad / avg
            p.data -= t(group["lr"]) * buf
        else:
            p.data -= t(group["lr"]) * (grad / avg)
