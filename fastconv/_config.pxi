# Runtime configuration: instruction-set tiers and threads.

cdef extern from "fastconv.h":
    ctypedef enum fc_status:
        FC_OK
        FC_ERR_NOMEM
        FC_ERR_NOTIMPL
        FC_ERR_ARG
        FC_ERR_INDEX
    int fc_tier_count() nogil
    const char *fc_tier_name(int tier) nogil
    int fc_tier_supported(int tier) nogil
    int fc_tier_best() nogil
    int fc_tier_is_test(int tier) nogil
    int fc_tier_in_use() nogil
    int fc_tier_fma_full_rate(int tier) nogil
    fc_status fc_tier_select(int tier) nogil
    int64_t fc_tier_vector_bytes(int tier) nogil
    void fc_set_num_threads(int n) nogil
    int fc_get_num_threads() nogil
    int fc_have_openmp() nogil
    void fc_runtime_init() nogil
    int fc_team_size() nogil
    int fc_thread_limit(int n) nogil
    void fc_call_enter() nogil
    void fc_call_leave() nogil
    int fc_fork_safe() nogil
    int64_t fc_forks_seen() nogil
    int64_t fc_workspace_cached() nogil
    int64_t fc_workspace_limit() nogil
    void fc_workspace_release() nogil

fc_runtime_init()


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


def all_isas(include_test=False):
    """Every tier this build knows (csrc/tiers.h), portable first, supported or not; with
    include_test also the test-only tiers (avx512emu)."""
    return [fc_tier_name(i).decode() for i in range(fc_tier_count())
            if include_test or not fc_tier_is_test(i)]


def _tier_index(name):
    names = all_isas(include_test=True)
    if name not in names:
        raise ValueError(f"ISA must be one of {all_isas()}, got {name!r}")
    return names.index(name)


def detect_isa():
    """Widest instruction-set tier this CPU supports (the default)."""
    return fc_tier_name(fc_tier_best()).decode()


def get_isa():
    """Instruction-set tier the kernels use now."""
    return fc_tier_name(fc_tier_in_use()).decode()


def fma_full_rate(name=None):
    """Whether the tier (default: the one in use) measured at least 1.5x its parent's FMA rate
    on this CPU: full-width 512-bit units.  'auto' weighs the GEMM by it."""
    cdef int i = fc_tier_in_use() if name is None else _tier_index(name)
    return bool(fc_tier_fma_full_rate(i))


def set_isa(name):
    """Use another supported tier (see available_isas())."""
    cdef int i = _tier_index(name)
    if fc_tier_select(i) != FC_OK:
        raise ValueError(f"this CPU cannot run the {name!r} tier (supported: "
                         f"{available_isas()})")


def available_isas(include_test=False):
    """Every tier this CPU can run, portable first (each one a child of an earlier one); with
    include_test also the supported test-only tiers, which the test suite runs too."""
    return [fc_tier_name(i).decode() for i in range(fc_tier_count()) if fc_tier_supported(i)
            and (include_test or not fc_tier_is_test(i))]


def isa_vector_bytes(name):
    """Width of the tier's widest vector register in bytes (0 when not supported)."""
    return int(fc_tier_vector_bytes(_tier_index(name)))


def team_size():
    """Threads an OpenMP parallel region of fastconv gets right now (runs an empty one)."""
    cdef int n
    with nogil:
        fc_call_enter()
        n = fc_team_size()
        fc_call_leave()
    return n


def thread_limit(int n):
    """Limit the calling thread's own OpenMP threads to n (others keep theirs); returns the
    previous limit, to restore it with."""
    return fc_thread_limit(n)


def fork_safe():
    """True when a process forked after fastconv ran keeps working (see runtime.c)."""
    return bool(fc_fork_safe())


def forks_seen():
    """How many fork()s this process and its ancestors went through since import (-1 when
    this build has no fork handlers)."""
    return int(fc_forks_seen())


def workspace_cached():
    """Bytes of large kernel workspace kept for the next call (csrc/workspace.c)."""
    return int(fc_workspace_cached())


def workspace_limit():
    """The most workspace kept between calls, in bytes (FASTCONV_WORKSPACE_MB; 0: none)."""
    return int(fc_workspace_limit())


def release_workspace():
    """Give the kept workspace back to the system."""
    fc_workspace_release()


def set_num_threads(int n):
    fc_set_num_threads(n)


def get_num_threads():
    return fc_get_num_threads()


def have_openmp():
    return bool(fc_have_openmp())
