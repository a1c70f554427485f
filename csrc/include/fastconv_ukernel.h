/*
 * Micro-kernel contracts (BLIS-style): each kernel here has an exact contract, a portable
 * C version in csrc/ukernels/generic/ and ISA versions in csrc/ukernels/<isa>/ (the only
 * files compiled with ISA flags).  Names: fc_<dtype>_<op>_<tile>__<isa>.
 */
#ifndef FASTCONV_UKERNEL_H
#define FASTCONV_UKERNEL_H
#include <stdint.h>
#include "fastconv.h"

/* (GEMM micro-kernels: declared by the GEMM work.) */

#endif
