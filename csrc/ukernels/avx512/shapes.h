/* The avx512 tier's direct-conv tap tiles (MR channels x NV vectors of 16 floats / 8
 * doubles): up to 24 accumulators of the 32 zmm registers, so that the x-first order
 * (NV loads + 1 broadcast + MR*NV accumulators) still fits. */
#define FC_DCONV_SHAPES_32(X)                                                                \
    X(4, 1) X(4, 2) X(4, 3) X(4, 4) X(4, 5) X(4, 6)                                          \
    X(3, 1) X(3, 2) X(3, 3) X(3, 4) X(3, 5) X(3, 6) X(3, 7)                                  \
    X(2, 1) X(2, 2) X(2, 3) X(2, 4) X(2, 5) X(2, 6) X(2, 7) X(2, 8)                          \
    X(1, 1) X(1, 2) X(1, 3) X(1, 4) X(1, 5) X(1, 6) X(1, 7) X(1, 8)
