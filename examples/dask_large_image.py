"""Filter an image stack far larger than memory with a learned filter bank, tile by tile.

    python examples/dask_large_image.py                      # 24 x 3 x 4096 x 4096 (4.5 GiB in)
    python examples/dask_large_image.py --images 200 --size 8192 --zarr out.zarr

The input stack is generated lazily by dask (in a real pipeline: da.from_zarr("stack.zarr")),
so no more than a few tiles per thread are ever in memory.  Each image goes through a 5x5
conv (3 -> 16 filters, "same" padding), a ReLU and a 2x2 max pool, and the result is either
written to a Zarr store (--zarr, needs `pip install zarr`) or reduced to per-filter mean
activations, with dask's progress bar.  The tiles' halos are handled by fastconv.dask, so the
result is what one fastconv call on each whole image would give."""
import argparse
import time

import numpy as np
import dask
import dask.array as da
from dask.diagnostics import ProgressBar

import fastconv.dask as fd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--tile", type=int, default=1024)
    ap.add_argument("--zarr", default=None, help="write the pooled maps to this Zarr store")
    o = ap.parse_args()

    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((16, 3, 5, 5)) / np.sqrt(75)).astype(np.float32)
    bias = np.zeros(16, np.float32)

    # One image per chunk along N, tiles along H and W, the channels in one chunk.
    gen = da.random.default_rng(1)
    stack = gen.standard_normal((o.images, 3, o.size, o.size), dtype=np.float32,
                                chunks=(1, 3, o.tile, o.tile))
    print(f"input : {stack.shape} {stack.dtype}, {stack.nbytes / 2**30:.1f} GiB, "
          f"{stack.npartitions} chunks")

    y = fd.conv2d(stack, weight, bias, padding="same")
    y = da.maximum(y, 0)
    y = fd.max_pool2d(y, 2)
    print(f"output: {y.shape}, {y.nbytes / 2**30:.1f} GiB")

    t = time.perf_counter()
    with ProgressBar(), dask.config.set(scheduler="threads", num_workers=2):
        if o.zarr:
            y.to_zarr(o.zarr, overwrite=True)
            result = f"written to {o.zarr}"
        else:
            result = y.mean(axis=(0, 2, 3)).compute()
    dt = time.perf_counter() - t
    flops = 2.0 * 16 * 3 * 25 * o.images * o.size * o.size
    print(f"{dt:.1f} s, {flops / dt / 1e9:.0f} GFLOP/s of convolution; mean activation per "
          f"filter: {result}")


if __name__ == "__main__":
    main()
