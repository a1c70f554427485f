"""Build the single C extension ``fastconv._kernels``.

Every ``.c`` file below ``csrc/`` is compiled into it.  Files below ``csrc/ukernels/<tier>/``
(and only those) get the flags in that folder's ``FLAGS`` file; the tier is chosen at run time
by ``csrc/dispatch.c``, so the result runs on any x86-64.  OpenMP is detected by compiling a probe; without it the build still
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

# Per-tier compile flags: csrc/ukernels/<tier>/FLAGS, the only place ISA flags appear.  The
# tier is chosen at run time by csrc/dispatch.c, so the result runs on any x86-64; a tier whose
# flags this compiler (or architecture) does not take is left out with a warning.
UKERNELS = os.path.join("csrc", "ukernels")
IS_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


def tier_flags():
    """{tier folder: [flags]} for every csrc/ukernels/<tier>/ with a FLAGS file."""
    out = {}
    for d in sorted(glob.glob(os.path.join(UKERNELS, "*", "FLAGS"))):
        with open(d) as f:
            out[os.path.dirname(d)] = f.read().split()
    return out


TIER_FLAGS = tier_flags()

BASE_CFLAGS = ["-O3", "-std=c99", "-fno-strict-aliasing", "-fvisibility=hidden",
               "-Wall", "-Wno-unused-function", "-Wno-unknown-pragmas",
               # C99 only warns, and the extension then fails at import with a bare symbol
               "-Werror=implicit-function-declaration"]
if os.environ.get("FASTCONV_SANITIZE"):
    BASE_CFLAGS = ["-O1", "-g", "-std=c99", "-fno-omit-frame-pointer",
                   "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]


def c_sources():
    return sorted(glob.glob(os.path.join(CSRC, "**", "*.c"), recursive=True))


def _tier_of(src):
    rel = os.path.relpath(os.path.abspath(src), HERE)
    for d in TIER_FLAGS:
        if rel.startswith(d + os.sep):
            return d
    return None


def _probe_flags(compiler, flags):
    """True when the compiler builds a file with these flags (they may be ISA flags the
    target architecture does not have)."""
    if not flags:
        return True
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "flags_probe.c")
        with open(src, "w") as f:
            f.write("int fc_flags_probe(int x) { return x + 1; }\n")
        compiler.compile([src], output_dir=tmp, extra_postargs=list(flags))
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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

        # Tiers this compiler cannot build are dropped (dispatch.c then lists them as
        # unsupported: their setup functions are weak references).
        dropped = set()
        if not IS_X86:
            dropped = {d for d, flags in TIER_FLAGS.items() if flags}
        for d, flags in TIER_FLAGS.items():
            if d not in dropped and not _probe_flags(compiler, flags):
                dropped.add(d)
        for d in sorted(dropped):
            sys.stderr.write(f"WARNING: the compiler does not build {d} "
                             f"({' '.join(TIER_FLAGS[d])}); that tier is left out.\n")
        for ext in self.extensions:
            ext.sources = [s for s in ext.sources if _tier_of(s) not in dropped]

        # Add the tier's flags per source file: wrap the compiler's single-file compile hook.
        orig_compile = compiler._compile

        def _compile(obj, src, ext, cc_args, extra_postargs, pp_opts):
            extra = list(extra_postargs)
            tier = _tier_of(src)
            if tier is not None:
                extra += TIER_FLAGS[tier]
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
