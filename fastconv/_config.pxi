# Runtime configuration: ISA selection and threads.

cdef extern from "fastconv.h":
    ctypedef enum fc_status:
        FC_OK
        FC_ERR_NOMEM
        FC_ERR_NOTIMPL
        FC_ERR_ARG
        FC_ERR_INDEX
    ctypedef enum fc_isa:
        FC_ISA_GENERIC
        FC_ISA_AVX2
    fc_isa fc_detect_isa() nogil
    fc_isa fc_get_isa() nogil
    fc_status fc_set_isa(fc_isa isa) nogil
    const char *fc_isa_name(fc_isa isa) nogil
    void fc_set_num_threads(int n) nogil
    int fc_get_num_threads() nogil
    int fc_have_openmp() nogil
    void fc_runtime_init() nogil

fc_runtime_init()

_ISA_BY_NAME = {"generic": FC_ISA_GENERIC, "avx2": FC_ISA_AVX2}


cdef int check_status(fc_status st) except -1:
    """Turn a C status into the Python exception the contract promises."""
    if st == FC_OK:
        return 0
    if st == FC_ERR_NOMEM:
        raise MemoryError("fastconv: could not allocate a kernel workspace")
    if st == FC_ERR_NOTIMPL:
        raise NotImplementedError("fastconv: this kernel is not available in this build")
    if st == FC_ERR_INDEX:
        raise ValueError("fastconv: a pooling index lies outside its input plane")
    raise ValueError("fastconv: inconsistent arguments reached a kernel (internal error)")


def detect_isa():
    """Best instruction set this CPU supports."""
    return fc_isa_name(fc_detect_isa()).decode()


def get_isa():
    """Instruction set the kernels use now."""
    return fc_isa_name(fc_get_isa()).decode()


def set_isa(name):
    """Force an instruction-set path ('generic' or 'avx2')."""
    if name not in _ISA_BY_NAME:
        raise ValueError(f"ISA must be one of {sorted(_ISA_BY_NAME)}, got {name!r}")
    if fc_set_isa(_ISA_BY_NAME[name]) != FC_OK:
        raise ValueError(f"this CPU cannot run the {name!r} path (best: {detect_isa()!r})")


def available_isas():
    """Instruction sets this CPU can run, portable first."""
    return ["generic"] + (["avx2"] if fc_detect_isa() == FC_ISA_AVX2 else [])


def set_num_threads(int n):
    fc_set_num_threads(n)


def get_num_threads():
    return fc_get_num_threads()


def have_openmp():
    return bool(fc_have_openmp())
