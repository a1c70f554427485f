"""fastconv.nn and fastconv.optim against PyTorch: same weights in, same numbers out."""
import numpy as np
import pytest

import fastconv.nn as fnn
import fastconv.optim as foptim
from nn_support import backend, mixed, assert_close  # noqa: F401  (backend is a fixture)

# Accumulation lengths behind the tolerances: the longest sums in the model below (grad of a
# conv weight sums N*H*W = 4*10*10 products, BatchNorm reduces 400 per channel, ...).
N_ACC = 1000


def _tdtype(torch, dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def _pair(torch, dtype, p=0.3, seed=0):
    """The mixed model in fastconv and in torch with torch's initial weights loaded.

    Torch's dropout draws its own mask; here the torch model applies fastconv's last mask so
    the two stay comparable in training mode (eval mode: both are the identity)."""
    torch.manual_seed(seed)
    fdrop = fnn.Dropout(p, rng=seed)

    class SameMask(torch.nn.Module):
        def forward(self, x):
            if not self.training:
                return x
            keep, scale = fdrop._saved
            return x * torch.from_numpy(keep) * float(scale)

    tm = mixed(torch.nn, SameMask()).to(_tdtype(torch, dtype))
    fm = mixed(fnn, fdrop, dtype=dtype)
    fm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    return fm, tm


def _data(dtype, n=4, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 10, 10)).astype(dtype), rng.integers(0, 10, n)


def _train_step(torch, fm, tm, x, y):
    crit = fnn.CrossEntropyLoss()
    out = fm(x)
    tx = torch.from_numpy(x).requires_grad_(True)
    tout = tm(tx)  # before fm.backward(), which releases the dropout mask torch borrows
    loss = crit(out, y)
    gx = fm.backward(crit.backward())
    tloss = torch.nn.functional.cross_entropy(tout, torch.from_numpy(y))
    tloss.backward()
    return (out, loss, gx), (tout.detach().numpy(), tloss.item(), tx.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mixed_model_matches_torch(torch, backend, dtype):
    fm, tm = _pair(torch, dtype)
    x, y = _data(dtype)
    (out, loss, gx), (tout, tloss, tgx) = _train_step(torch, fm, tm, x, y)
    assert out.dtype == dtype and gx.dtype == dtype
    assert_close(out, tout, dtype, N_ACC, "train-mode output")
    assert abs(loss - tloss) <= 10 * np.finfo(dtype).eps * N_ACC * max(1, abs(tloss))
    assert_close(gx, tgx, dtype, N_ACC, "input gradient")
    tparams = dict(tm.named_parameters())
    names = [name for name, _ in fm.named_parameters()]
    assert names == list(tparams)
    for name, p in fm.named_parameters():
        assert p.grad.dtype == dtype
        assert_close(p.grad, tparams[name].grad.numpy(), dtype, N_ACC, f"grad of {name}")
    tbn, fbn = tm[1], fm[1]
    assert_close(fbn.running_mean, tbn.running_mean.numpy(), dtype, N_ACC, "running_mean")
    assert_close(fbn.running_var, tbn.running_var.numpy(), dtype, N_ACC, "running_var")
    assert int(fbn.num_batches_tracked) == int(tbn.num_batches_tracked) == 1
    fm.eval()
    tm.eval()
    with torch.no_grad():
        assert_close(fm(x), tm(torch.from_numpy(x)).numpy(), dtype, N_ACC, "eval-mode output")


OPTIMISERS = {
    "sgd": (lambda m, lib: lib.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2,
                                   nesterov=True)),
    "sgd-dampening": (lambda m, lib: lib.SGD(m.parameters(), lr=0.05, momentum=0.5,
                                             dampening=0.3, maximize=True)),
    "adam": (lambda m, lib: lib.Adam(m.parameters(), lr=0.01, betas=(0.8, 0.99),
                                     weight_decay=1e-2)),
    "adam-amsgrad": (lambda m, lib: lib.Adam(m.parameters(), lr=0.01, amsgrad=True)),
    "adamw": (lambda m, lib: lib.AdamW(m.parameters(), lr=0.01)),
    "rmsprop": (lambda m, lib: lib.RMSprop(m.parameters(), lr=0.01, momentum=0.5,
                                           weight_decay=1e-3)),
    "rmsprop-centered": (lambda m, lib: lib.RMSprop(m.parameters(), lr=0.01, centered=True)),
}


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_optimiser_steps_match_torch(torch, backend, name):
    dtype = np.float64
    fm, tm = _pair(torch, dtype)
    fopt, topt = OPTIMISERS[name](fm, foptim), OPTIMISERS[name](tm, torch.optim)
    for step in range(2):
        x, y = _data(dtype, seed=10 + step)
        fopt.zero_grad()
        topt.zero_grad()
        _train_step(torch, fm, tm, x, y)
        fopt.step()
        topt.step()
        tparams = dict(tm.named_parameters())
        for pname, p in fm.named_parameters():
            assert_close(p.data, tparams[pname].detach().numpy(), dtype, N_ACC,
                         f"{name} step {step + 1}: {pname}")
    for key, value in tm.state_dict().items():
        assert_close(fm.state_dict()[key], value.numpy(), dtype, N_ACC, key)


def _layer_cases():
    """(fastconv-or-torch nn) -> layer, and the input shape, for non-default arguments."""
    return {
        "conv-groups-stride-dilation": (lambda nn: nn.Conv2d(4, 6, 3, stride=2, padding=2,
                                                             dilation=2, groups=2), (2, 4, 9, 8)),
        "conv-circular-nobias": (lambda nn: nn.Conv2d(3, 5, (3, 2), padding=(1, 2), bias=False,
                                                      padding_mode="circular"), (2, 3, 6, 7)),
        "conv-valid-unbatched": (lambda nn: nn.Conv2d(2, 3, 3, padding="valid"), (2, 6, 6)),
        "conv-transpose-groups": (lambda nn: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                                output_padding=1, groups=2,
                                                                dilation=2), (2, 4, 5, 4)),
        "maxpool-ceil-dilation": (lambda nn: nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True),
                                  (2, 3, 9, 10)),
        "avgpool-exclude-pad": (lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True,
                                                        count_include_pad=False), (2, 3, 8, 9)),
        "avgpool-divisor": (lambda nn: nn.AvgPool2d((2, 3), divisor_override=5), (2, 3, 6, 9)),
        "adaptive-avg": (lambda nn: nn.AdaptiveAvgPool2d((3, None)), (2, 3, 7, 5)),
        "adaptive-max": (lambda nn: nn.AdaptiveMaxPool2d(3), (2, 3, 7, 8)),
        "batchnorm-cumulative": (lambda nn: nn.BatchNorm2d(3, eps=1e-3, momentum=None),
                                 (4, 3, 3, 3)),
        "batchnorm-no-affine": (lambda nn: nn.BatchNorm2d(3, affine=False), (4, 3, 3, 3)),
        "batchnorm-no-running": (lambda nn: nn.BatchNorm2d(3, track_running_stats=False),
                                 (4, 3, 3, 3)),
        "relu": (lambda nn: nn.ReLU(), (2, 3, 4, 4)),
        "sigmoid": (lambda nn: nn.Sigmoid(), (2, 3, 4, 4)),
        "tanh": (lambda nn: nn.Tanh(), (2, 3, 4, 4)),
        "softmax": (lambda nn: nn.Softmax(dim=1), (2, 5, 3)),
        "log-softmax": (lambda nn: nn.LogSoftmax(dim=-1), (2, 3, 6)),
        "flatten": (lambda nn: nn.Flatten(0, 2), (2, 3, 4, 5)),
        "linear-3d": (lambda nn: nn.Linear(5, 4), (2, 3, 5)),
        "linear-nobias": (lambda nn: nn.Linear(5, 4, bias=False), (3, 5)),
        # the 1-D family
        "conv1d-groups-stride-dilation": (lambda nn: nn.Conv1d(4, 6, 3, stride=2, padding=2,
                                                               dilation=2, groups=2), (2, 4, 11)),
        "conv1d-reflect-unbatched": (lambda nn: nn.Conv1d(3, 5, 4, padding=2,
                                                          padding_mode="reflect"), (3, 9)),
        "conv1d-same": (lambda nn: nn.Conv1d(2, 3, 4, padding="same", dilation=2), (2, 2, 10)),
        "conv-transpose1d": (lambda nn: nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1,
                                                           output_padding=1, groups=2),
                             (2, 4, 7)),
        "maxpool1d-ceil": (lambda nn: nn.MaxPool1d(3, 2, 1, dilation=2, ceil_mode=True),
                           (2, 3, 12)),
        "avgpool1d": (lambda nn: nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False),
                      (2, 3, 10)),
        "adaptive-avg1d": (lambda nn: nn.AdaptiveAvgPool1d(4), (2, 3, 11)),
        "adaptive-max1d": (lambda nn: nn.AdaptiveMaxPool1d(5), (2, 3, 13)),
        "batchnorm1d-2d-input": (lambda nn: nn.BatchNorm1d(5), (6, 5)),
        "batchnorm1d-3d-input": (lambda nn: nn.BatchNorm1d(3, momentum=None), (4, 3, 7)),
        "batchnorm3d": (lambda nn: nn.BatchNorm3d(2), (3, 2, 3, 4, 2)),
        "lppool2d": (lambda nn: nn.LPPool2d(2, 3, 2, ceil_mode=True), (2, 3, 8, 9)),
        "lppool1d": (lambda nn: nn.LPPool1d(2.0, 4), (2, 3, 13)),
        # the 3-D family
        "conv3d-groups-stride-dilation": (lambda nn: nn.Conv3d(4, 6, (2, 3, 3), stride=(1, 2, 1),
                                                               padding=1, dilation=(2, 1, 1),
                                                               groups=2), (2, 4, 5, 7, 6)),
        "conv3d-replicate-unbatched": (lambda nn: nn.Conv3d(2, 3, 3, padding=(1, 2, 1),
                                                            padding_mode="replicate"),
                                       (2, 4, 5, 4)),
        "conv3d-same": (lambda nn: nn.Conv3d(2, 3, (3, 1, 1), padding="same"), (2, 2, 5, 4, 4)),
        "conv-transpose3d": (lambda nn: nn.ConvTranspose3d(4, 6, 3, stride=2, padding=1,
                                                           output_padding=(1, 0, 1), groups=2),
                             (2, 4, 3, 4, 3)),
        "maxpool3d-ceil": (lambda nn: nn.MaxPool3d(3, 2, 1, dilation=(1, 2, 1), ceil_mode=True),
                           (2, 3, 6, 9, 7)),
        "avgpool3d": (lambda nn: nn.AvgPool3d(3, 2, 1, ceil_mode=True, count_include_pad=False),
                      (2, 3, 6, 7, 5)),
        "avgpool3d-divisor": (lambda nn: nn.AvgPool3d(2, divisor_override=3), (1, 2, 4, 6, 4)),
        "adaptive-avg3d": (lambda nn: nn.AdaptiveAvgPool3d((2, 3, None)), (2, 3, 5, 7, 4)),
        "adaptive-max3d": (lambda nn: nn.AdaptiveMaxPool3d(3), (2, 3, 7, 5, 6)),
    }


@pytest.mark.parametrize("case", list(_layer_cases()))
def test_layer_matches_torch(torch, backend, case):
    make, shape = _layer_cases()[case]
    dtype = np.float64
    torch.manual_seed(0)
    tl = make(torch.nn).double()
    fl = make(fnn).double()
    fl.load_state_dict({k: v.numpy() for k, v in tl.state_dict().items()})
    rng = np.random.default_rng(3)
    for step in range(2):  # twice: running statistics evolve
        x = rng.standard_normal(shape)
        out = fl(x)
        tx = torch.from_numpy(x).requires_grad_(True)
        tout = tl(tx)
        g = rng.standard_normal(tout.shape)
        tout.backward(torch.from_numpy(g))
        assert_close(out, tout.detach().numpy(), dtype, 100, f"{case}: output")
        assert_close(fl.backward(g), tx.grad.numpy(), dtype, 100, f"{case}: grad input")
    tparams = dict(tl.named_parameters())
    for name, p in fl.named_parameters():
        assert_close(p.grad, tparams[name].grad.numpy(), dtype, 100, f"{case}: grad {name}")
    for key, value in tl.state_dict().items():
        assert_close(fl.state_dict()[key], value.numpy(), dtype, 100, f"{case}: {key}")
    fl.eval()
    tl.eval()
    x = rng.standard_normal(shape)
    with torch.no_grad():
        assert_close(fl(x), tl(torch.from_numpy(x)).numpy(), dtype, 100, f"{case}: eval output")


def _audio_net(nn):
    """A 1-D model with every 1-D layer (raw-audio style front end, TCN-ish body)."""
    return nn.Sequential(
        nn.Conv1d(1, 8, 9, stride=2, padding=4), nn.BatchNorm1d(8), nn.ReLU(),
        nn.MaxPool1d(2), nn.Conv1d(8, 8, 3, padding=2, dilation=2, groups=2), nn.ReLU(),
        nn.AvgPool1d(2), nn.ConvTranspose1d(8, 6, 4, stride=2, padding=1), nn.Tanh(),
        nn.AdaptiveMaxPool1d(12), nn.AdaptiveAvgPool1d(4), nn.Flatten(), nn.Linear(24, 5))
    # (BatchNorm1d on (N, C) input is its own layer case: on a batch of 4 after a Linear its
    # gradient amplifies rounding far beyond a sum's, which the tolerance here models)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_1d_model_matches_torch(torch, backend, dtype):
    torch.manual_seed(0)
    tm = _audio_net(torch.nn).to(_tdtype(torch, dtype))
    fm = _audio_net(fnn)
    fm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    if dtype == np.float64:
        fm.double()
    rng = np.random.default_rng(5)
    for step in range(2):
        x = rng.standard_normal((4, 1, 64)).astype(dtype)
        out = fm(x)
        tx = torch.from_numpy(x).requires_grad_(True)
        tout = tm(tx)
        g = rng.standard_normal(tout.shape).astype(dtype)
        tout.backward(torch.from_numpy(g))
        assert_close(out, tout.detach().numpy(), dtype, N_ACC, "1-D model output")
        assert_close(fm.backward(g), tx.grad.numpy(), dtype, N_ACC, "1-D model grad input")
    tparams = dict(tm.named_parameters())
    for name, p in fm.named_parameters():
        assert_close(p.grad, tparams[name].grad.numpy(), dtype, N_ACC, f"grad {name}")
    fm.eval()
    tm.eval()
    x = rng.standard_normal((3, 1, 64)).astype(dtype)
    with torch.no_grad():
        assert_close(fm(x), tm(torch.from_numpy(x)).numpy(), dtype, N_ACC, "eval output")


class _VideoNet:
    """A 3-D model with every 3-D layer (C3D-style stem, U-Net-style decoder)."""

    def __init__(self, nn):
        self.enc = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.BatchNorm3d(8), nn.ReLU())
        self.pool = nn.MaxPool3d(2, return_indices=True)
        self.unpool = nn.MaxUnpool3d(2)
        self.dec = nn.Sequential(
            nn.Conv3d(8, 8, (3, 1, 1), padding=(1, 0, 0)), nn.ReLU(), nn.AvgPool3d(2),
            nn.ConvTranspose3d(8, 4, 2, stride=2), nn.Tanh(), nn.AdaptiveMaxPool3d((2, 3, 3)),
            nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 5))


def _video_forward(m, x):
    h = m.enc(x)
    p, idx = m.pool(h)
    return m.dec(m.unpool(p, idx)), idx


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_3d_model_matches_torch(torch, backend, dtype):
    torch.manual_seed(0)
    tm = _VideoNet(torch.nn)
    fm = _VideoNet(fnn)
    td = _tdtype(torch, dtype)
    for part in ("enc", "dec"):
        t = getattr(tm, part).to(td)
        f = getattr(fm, part)
        f.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
        if dtype == np.float64:
            f.double()
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 4, 6, 6)).astype(dtype)
    tx = torch.from_numpy(x).requires_grad_(True)
    tout, tidx = _video_forward(tm, tx)
    out, idx = _video_forward(fm, x)
    np.testing.assert_array_equal(idx, tidx.numpy())
    assert_close(out, tout.detach().numpy(), dtype, N_ACC, "3-D model output")
    g = rng.standard_normal(tout.shape).astype(dtype)
    tout.backward(torch.from_numpy(g))
    gh = fm.pool.backward(fm.unpool.backward(fm.dec.backward(g)))
    assert_close(fm.enc.backward(gh), tx.grad.numpy(), dtype, N_ACC, "3-D model grad input")
    for part in ("enc", "dec"):
        tparams = dict(getattr(tm, part).named_parameters())
        for name, p in getattr(fm, part).named_parameters():
            assert_close(p.grad, tparams[name].grad.numpy(), dtype, N_ACC, f"{part} {name}")


def test_conv_transpose_output_size_matches_torch(torch, backend):
    torch.manual_seed(0)
    tl = torch.nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1).double()
    fl = fnn.ConvTranspose2d(2, 3, 3, stride=3, padding=1, dtype=np.float64)
    fl.load_state_dict({k: v.numpy() for k, v in tl.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    for size in [(10, 10), (11, 12), (1, 3, 12, 11)]:
        want = tl(torch.from_numpy(x), output_size=list(size)).detach().numpy()
        assert_close(fl(x, output_size=size), want, np.float64, 100, f"output_size={size}")
    with pytest.raises(ValueError, match="valid sizes"):
        fl(x, output_size=(13, 10))


def _ce_cases(rng):
    c = 5
    logits4 = rng.standard_normal((3, c, 2, 2))
    t4 = rng.integers(0, c, (3, 2, 2))
    t4[0, 0, 1] = -100
    probs = rng.random((4, c))
    probs /= probs.sum(1, keepdims=True)
    w = rng.random(c) + 0.5
    t = np.array([1, 4, -100, 0])
    return [
        ({}, rng.standard_normal((4, c)), np.array([1, 4, 2, 0])),
        ({"weight": w}, rng.standard_normal((4, c)), t),
        ({"weight": w, "label_smoothing": 0.2}, rng.standard_normal((4, c)), t),
        ({"label_smoothing": 0.1, "reduction": "sum"}, rng.standard_normal((4, c)), t),
        ({"reduction": "none", "weight": w}, rng.standard_normal((4, c)), t),
        ({"ignore_index": 2}, rng.standard_normal((4, c)), np.array([2, 1, 2, 3])),
        ({"weight": w}, logits4, t4),
        ({"label_smoothing": 0.3, "weight": w}, logits4, t4),
        ({}, rng.standard_normal((4, c)), probs),
        ({"weight": w, "label_smoothing": 0.2}, rng.standard_normal((4, c)), probs),
        ({}, rng.standard_normal(c), np.array(3)),
    ]


def test_cross_entropy_matches_torch(torch):
    rng = np.random.default_rng(0)
    for kwargs, logits, target in _ce_cases(rng):
        tk = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
              for k, v in kwargs.items()}
        crit = fnn.CrossEntropyLoss(**kwargs)
        loss = crit(logits, target)
        tz = torch.from_numpy(logits).requires_grad_(True)
        tloss = torch.nn.CrossEntropyLoss(**tk)(tz, torch.from_numpy(target))
        upstream = rng.standard_normal(tloss.shape)
        tloss.backward(torch.from_numpy(upstream))
        if kwargs.get("reduction") == "none":
            assert_close(loss, tloss.detach().numpy(), np.float64, 10, f"loss {kwargs}")
            grad = crit.backward(upstream)
        else:
            assert isinstance(loss, float)
            assert abs(loss - tloss.item()) <= 1e-13 * max(1, abs(loss)), kwargs
            grad = crit.backward(float(upstream))
        assert_close(grad, tz.grad.numpy(), np.float64, 10, f"grad {kwargs}")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_matches_torch(torch, reduction):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    crit = fnn.MSELoss(reduction=reduction)
    loss = crit(x, t)
    tx = torch.from_numpy(x).requires_grad_(True)
    tloss = torch.nn.MSELoss(reduction=reduction)(tx, torch.from_numpy(t))
    if reduction == "none":
        assert_close(loss, tloss.detach().numpy(), np.float64, 10, "loss")
        tloss.sum().backward()
    else:
        assert abs(loss - tloss.item()) <= 1e-14 * max(1, abs(loss))
        tloss.backward()
    assert_close(crit.backward(), tx.grad.numpy(), np.float64, 10, "grad")


def test_default_initialisation_matches_torch(torch):
    """Same distributions as PyTorch: U(+-1/sqrt(fan_in)) weights and biases."""
    torch.manual_seed(0)
    fnn.manual_seed(0)
    for make, fan_in in [(lambda nn: nn.Conv2d(16, 32, 3), 16 * 9),
                         (lambda nn: nn.Conv2d(16, 32, 3, groups=4), 4 * 9),
                         (lambda nn: nn.ConvTranspose2d(16, 8, 3, groups=2), 4 * 9),
                         (lambda nn: nn.Linear(200, 300), 200)]:
        bound = 1 / np.sqrt(fan_in)
        tl, fl = make(torch.nn), make(fnn)
        for name, tp in tl.named_parameters():
            ours, theirs = getattr(fl, name).data, tp.detach().numpy()
            assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.float32
            for arr in (ours, theirs):
                assert np.abs(arr).max() <= bound * (1 + 1e-6)
                # Uniform on [-b, b]: the extremes come close to b, the spread is b/sqrt(3).
                assert np.abs(arr).max() >= 0.8 * bound
                if arr.size > 1000:
                    assert abs(arr.std() - bound / np.sqrt(3)) < 0.05 * bound


def test_torch_state_dict_loads_with_cast_and_same_keys(torch):
    torch.manual_seed(0)
    tm = mixed(torch.nn, torch.nn.Dropout(0.5)).double()
    fm = mixed(fnn, fnn.Dropout(0.5))  # float32
    sd = tm.state_dict()
    assert list(fm.state_dict()) == list(sd)
    fm.load_state_dict(sd)  # torch tensors are accepted too
    for k, v in fm.state_dict().items():
        assert v.dtype == (np.int64 if k.endswith("num_batches_tracked") else np.float32)
        np.testing.assert_array_equal(v, sd[k].numpy().astype(v.dtype))
