/*
 * Dilated convolution by phases.  At stride 1, a kernel dilated by (dH, dW) reads, for the
 * outputs of row phase r = oh mod dH and column phase s = ow mod dW, only inputs of the same
 * phases (oh - pH + dH*kh = dH*(oh/dH - pH/dH + kh) + r when dH divides pH).  When dH, dW
 * divide the padding and the input and output sizes, the call is therefore the undilated
 * convolution of a batch of N*dH*dW phase images of (H/dH, W/dW) with padding (pH/dH, pW/dW),
 * the same filters, and its outputs are the phase images of the result: Winograd, which
 * serves only dilation 1, then runs dilated layers (a 3x3 dilation-2 layer of 64 channels on
 * 56x56 images: 10.2 ms direct, against the phases' ~8; conv.c decides).
 *
 * Each pass gathers its inputs into phase images and scatters its image result back (its
 * weight gradient is the phase batch's, unchanged): copies of the activations, (image,
 * channel) planes shared among the threads.  The convolution itself runs through the
 * dispatcher on the phase geometry, non-finite data included.
 */
#include <string.h>
#include "conv_internal.h"

int fc_conv2d_phases_geom(const fc_conv_geom *g, fc_conv_geom *ph)
{
    const int64_t dH = g->dH, dW = g->dW;
    if ((dH == 1 && dW == 1) || g->sH != 1 || g->sW != 1)
        return 0;
    if (g->pH % dH || g->pW % dW || g->H % dH || g->W % dW || g->H_out % dH ||
        g->W_out % dW || g->N > INT64_MAX / (dH * dW))
        return 0;
    if (ph) {
        *ph = *g;
        ph->N = g->N * dH * dW;
        ph->H = g->H / dH;
        ph->W = g->W / dW;
        ph->H_out = g->H_out / dH;
        ph->W_out = g->W_out / dW;
        ph->pH = g->pH / dH;
        ph->pW = g->pW / dW;
        ph->dH = ph->dW = 1;
    }
    return 1;
}

#define FC_T float
#define FC_DT f32
#include "phases_impl.h"
#undef FC_T
#undef FC_DT
#define FC_T double
#define FC_DT f64
#include "phases_impl.h"
#undef FC_T
#undef FC_DT
