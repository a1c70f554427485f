"""Build the single C extension ``fastconv._kernels``.

Every ``.c`` file below ``csrc/`` is compiled into it.  Files below ``csrc/ukernels/avx2/`` (and
only those) get ``-mavx2 -mfma``; the ISA is chosen at run time by ``csrc/dispatch.c``, so the
result runs on any x86-64.  OpenMP is detected by compiling a probe; without it the build still
succeeds and every kernel runs serially.
"""
import os
import sys
import glob
import shutil
import tempfile
import platform

import numpy as np
from setuptools import setup, Extension
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join("csrc")

# Per-directory extra compile flags: the only place ISA flags appear.
IS_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")
ISA_FLAGS = {
    os.path.join("csrc", "ukernels", "avx2"): ["-mavx2", "-mfma"] if IS_X86 else None,
}

BASE_CFLAGS = ["-O3", "-std=c99", "-fno-strict-aliasing", "-fvisibility=hidden",
               "-Wall", "-Wno-unused-function", "-Wno-unknown-pragmas"]
if os.environ.get("FASTCONV_SANITIZE"):
    BASE_CFLAGS = ["-O1", "-g", "-std=c99", "-fno-omit-frame-pointer",
                   "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]


def c_sources():
    srcs = sorted(glob.glob(os.path.join(CSRC, "**", "*.c"), recursive=True))
    out = []
    for s in srcs:
        for d, flags in ISA_FLAGS.items():
            if s.startswith(d + os.sep) and flags is None:
                break  # ISA not buildable on this architecture
        else:
            out.append(s)
    return out


def _probe_openmp(compiler):
    """Return True when the compiler can build and link an OpenMP program."""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "omp_probe.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel\n"
                    "{\n#pragma omp atomic\nn++;}\nreturn omp_get_max_threads()>0?0:1;}\n")
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
        compiler.link_executable(objs, os.path.join(tmp, "omp_probe"),
                                 extra_postargs=["-fopenmp"])
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    def build_extensions(self):
        compiler = self.compiler
        omp = os.environ.get("FASTCONV_NO_OPENMP") is None and _probe_openmp(compiler)
        if not omp:
            sys.stderr.write("WARNING: OpenMP not available; fastconv will run serially.\n")
        for ext in self.extensions:
            ext.extra_compile_args = list(BASE_CFLAGS) + (["-fopenmp"] if omp else [])
            ext.extra_link_args = (["-fopenmp"] if omp else []) + (
                ["-fsanitize=address,undefined"] if os.environ.get("FASTCONV_SANITIZE") else [])
            if omp:
                ext.define_macros.append(("FC_HAVE_OPENMP", "1"))

        # Add ISA flags per source file: wrap the compiler's single-file compile hook.
        orig_compile = compiler._compile

        def _compile(obj, src, ext, cc_args, extra_postargs, pp_opts):
            rel = os.path.relpath(os.path.abspath(src), HERE)
            extra = list(extra_postargs)
            for d, flags in ISA_FLAGS.items():
                if flags and rel.startswith(d + os.sep):
                    extra += flags
            # Cython output: silence warnings we cannot fix there.
            if src.endswith("_kernels.c"):
                extra = [a for a in extra if a not in ("-Wall", "-std=c99")]
            return orig_compile(obj, src, ext, cc_args, extra, pp_opts)

        compiler._compile = _compile
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize
    ext = Extension(
        "fastconv._kernels",
        sources=[os.path.join("fastconv", "_kernels.pyx")] + c_sources(),
        include_dirs=[np.get_include(), os.path.join(CSRC, "include"), CSRC],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        # The *_impl.h templates hold most of the kernel code: an edit to any header must
        # rebuild, which setuptools only knows through `depends`.
        depends=sorted(glob.glob(os.path.join(CSRC, "**", "*.h"), recursive=True)),
        language="c",
    )
    return cythonize([ext], language_level=3, compiler_directives={
        "boundscheck": False, "wraparound": False, "cdivision": True,
        "initializedcheck": False})


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
