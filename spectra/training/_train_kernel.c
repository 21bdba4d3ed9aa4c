/* Native forward and backward of a run of circular convolutions with tanh, for training
 * (spectra/training/_fast.py calls these through ctypes).
 *
 * Layout: activations are channels-last, (npix_total, C) with npix_total = nimg * npix;
 * pixel p of an image reads pixel src[p * ntaps + t] of the same image for tap t (a
 * circular shift, so each tap's map is a permutation; dst is its inverse). A layer is
 *
 *     z[p, :] = b + sum_t sum_ci x[src(p, t), ci] * w[t, ci, :],    y = tanh(z)
 *
 * with w (ntaps, C, C) indexed [t][ci][co]. Backward, given y and dL/dy:
 *
 *     dz = dy * (1 - y^2),  gb = sum_p dz[p],  gw[t][ci][co] = sum_p x[src(p,t), ci] dz[p, co],
 *     dx[q, ci] = sum_t sum_co w[t][ci][co] dz[dst(q, t), co].
 *
 * The loops work on 32-byte vectors of channels (C a multiple of 8 floats or 4 doubles)
 * with a few pixels' accumulators held in registers; every sum runs in a fixed order, so
 * results do not depend on anything but the inputs. Compiled once per C in TRAIN_CHANNELS,
 * float and double, with AVX2/FMA and portable clones picked at load time.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stddef.h>
#include <string.h>

typedef float tvf __attribute__((vector_size(32), aligned(4), may_alias));
typedef double tvd __attribute__((vector_size(32), aligned(8), may_alias));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

typedef int tvi __attribute__((vector_size(32), aligned(4), may_alias));

/* tanh of 8 floats: Cephes' odd polynomial below |x| = 0.625, 1 - 2 / (e^{2|x|} + 1)
 * above, e^u = 2^n * poly(u - n ln2); in vector operations with bit masks for the
 * branches. Error: a few float32 ulps (tested against torch.tanh). */
static inline __attribute__((always_inline)) tvf tanh_v8(tvf x) {
  tvi xi = (tvi)x;
  tvi sign = xi & (int)0x80000000;
  tvf a = (tvf)(xi & 0x7fffffff);
  tvf z = x * x;
  tvf small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
  tvf u = 2.0f * a;
  tvi big_u = u > 80.0f;
  u = (tvf)((~big_u & (tvi)u) | (big_u & (tvi)((tvf){0} + 80.0f)));
  tvi ni = __builtin_convertvector(u * 1.44269504089f + 0.5f, tvi); /* u >= 0: floor */
  tvf n = __builtin_convertvector(ni, tvf);
  tvf r = u - n * 0.693359375f + n * 2.12194440e-4f;
  tvf p = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
             4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f) * r * r +
          r + 1.0f;
  tvf e = p * (tvf)((ni + 127) << 23);
  tvf big = (tvf)((tvi)(1.0f - 2.0f / (e + 1.0f)) | sign);
  tvi ms = a < 0.625f;
  return (tvf)((ms & (tvi)small) | (~ms & (tvi)big));
}

/* out[g, :] = tanh(out[g, :] + bias) for P pixels of C channels */
static inline __attribute__((always_inline)) void act_f32(float *out, const float *bias,
                                                          long P, int C) {
  for (long g = 0; g < P; g++)
    for (int c = 0; c < C; c += 8) {
      tvf *o = (tvf *)(out + g * C + c);
      *o = tanh_v8(*o + *(const tvf *)(bias + c));
    }
}
static inline __attribute__((always_inline)) void act_f64(double *out, const double *bias,
                                                          long P, int C) {
  for (long g = 0; g < P; g++)
    for (int c = 0; c < C; c++) out[g * C + c] = tanh(out[g * C + c] + bias[c]);
}

/* out[g, :] = sum_t sum_ci in[img(g) + src[p, t], ci] * w[t, ci, :] for all pixels g;
 * PB pixels per block, NV vectors per pixel. */
#define CONV(NAME, T, V, C, NV, PB)                                                         \
  static inline __attribute__((always_inline)) void NAME(const T *in, T *out, const T *w, const int *src, long nimg, int npix,     \
                   int ntaps) {                                                             \
    for (long b = 0; b < nimg; b++) {                                                       \
      const T *img = in + b * (long)npix * C;                                               \
      T *o = out + b * (long)npix * C;                                                      \
      int p = 0;                                                                            \
      for (; p + PB <= npix; p += PB) {                                                     \
        V acc[PB][NV];                                                                      \
        for (int j = 0; j < PB; j++)                                                        \
          for (int v = 0; v < NV; v++) acc[j][v] = (V){0};                                  \
        for (int t = 0; t < ntaps; t++) {                                                   \
          const T *xs[PB];                                                                  \
          for (int j = 0; j < PB; j++) xs[j] = img + (long)src[(p + j) * ntaps + t] * C;    \
          const T *wt = w + (long)t * C * C;                                                \
          for (int ci = 0; ci < C; ci++) {                                                  \
            const V *wr = (const V *)(wt + ci * C);                                         \
            for (int j = 0; j < PB; j++) {                                                  \
              T xv = xs[j][ci];                                                             \
              for (int v = 0; v < NV; v++) acc[j][v] += xv * wr[v];                         \
            }                                                                               \
          }                                                                                 \
        }                                                                                   \
        for (int j = 0; j < PB; j++)                                                        \
          for (int v = 0; v < NV; v++) ((V *)(o + (p + j) * C))[v] = acc[j][v];             \
      }                                                                                     \
      for (; p < npix; p++) {                                                               \
        V acc[NV];                                                                          \
        for (int v = 0; v < NV; v++) acc[v] = (V){0};                                       \
        for (int t = 0; t < ntaps; t++) {                                                   \
          const T *xs = img + (long)src[p * ntaps + t] * C;                                 \
          const T *wt = w + (long)t * C * C;                                                \
          for (int ci = 0; ci < C; ci++) {                                                  \
            const V *wr = (const V *)(wt + ci * C);                                         \
            for (int v = 0; v < NV; v++) acc[v] += xs[ci] * wr[v];                          \
          }                                                                                 \
        }                                                                                   \
        for (int v = 0; v < NV; v++) ((V *)(o + p * C))[v] = acc[v];                        \
      }                                                                                     \
    }                                                                                       \
  }

/* gw[t][ci][:] = sum_g x[img(g) + src[p, t], ci] * dz[g, :]; CB input channels at once */
#define WGRAD(NAME, T, V, C, NV, CB)                                                        \
  static inline __attribute__((always_inline)) void NAME(const T *x, const T *dz, T *gw, const int *src, long nimg, int npix,      \
                   int ntaps) {                                                             \
    for (int t = 0; t < ntaps; t++) {                                                       \
      for (int c0 = 0; c0 < C; c0 += CB) {                                                  \
        V acc[CB][NV];                                                                      \
        for (int j = 0; j < CB; j++)                                                        \
          for (int v = 0; v < NV; v++) acc[j][v] = (V){0};                                  \
        for (long b = 0; b < nimg; b++) {                                                   \
          const T *img = x + b * (long)npix * C + c0;                                       \
          const T *d = dz + b * (long)npix * C;                                             \
          for (int p = 0; p < npix; p++) {                                                  \
            const T *xs = img + (long)src[p * ntaps + t] * C;                               \
            const V *dv = (const V *)(d + p * C);                                           \
            for (int j = 0; j < CB; j++)                                                    \
              for (int v = 0; v < NV; v++) acc[j][v] += xs[j] * dv[v];                      \
          }                                                                                 \
        }                                                                                   \
        for (int j = 0; j < CB; j++)                                                        \
          for (int v = 0; v < NV; v++)                                                      \
            ((V *)(gw + ((long)t * C + c0 + j) * C))[v] = acc[j][v];                        \
      }                                                                                     \
    }                                                                                       \
  }

/* Entry points (ctypes).
 * fwd: nlayers layers from x0; keep=1 writes layer l's output to ys + l * P * C (all
 *   layers), keep=0 alternates between ys and ys + P * C (the last output is in slot
 *   (nlayers - 1) % 2).
 * bwd: x0 the segment's input, ys its nlayers outputs, gy dL/d(last output); writes
 *   gw (nlayers, ntaps, C, C), gb (nlayers, C), gx (P, C); scratch holds 3 P * C + ntaps C^2.
 */
#define DEFINE_TRAIN(SUF, T, V, C, NV, PB, CB, TANH)                                        \
  CONV(conv_##SUF, T, V, C, NV, PB)                                                         \
  WGRAD(wgrad_##SUF, T, V, C, NV, CB)                                                       \
  CLONES void train_fwd_##SUF(const T *x0, T *ys, const T *w, const T *bias, int nlayers,    \
                              long nimg, int npix, int ntaps, const int *src, int keep) {   \
    long P = nimg * npix;                                                                   \
    const T *in = x0;                                                                       \
    for (int l = 0; l < nlayers; l++) {                                                     \
      T *out = ys + (keep ? (long)l : (long)(l % 2)) * P * C;                               \
      conv_##SUF(in, out, w + (long)l * ntaps * C * C, src, nimg, npix, ntaps);             \
      TANH(out, bias + (long)l * C, P, C);                                                  \
      in = out;                                                                             \
    }                                                                                       \
  }                                                                                         \
  CLONES void train_bwd_##SUF(const T *x0, const T *ys, const T *gy, const T *w, T *gw,     \
                              T *gb, T *gx, int nlayers, long nimg, int npix, int ntaps,    \
                              const int *src, const int *dst, T *scratch) {                 \
    long P = nimg * npix;                                                                   \
    T *dy = scratch, *dz = scratch + P * C, *wt = scratch + 2 * P * C;                      \
    memcpy(dy, gy, sizeof(T) * P * C);                                                      \
    for (int l = nlayers - 1; l >= 0; l--) {                                                \
      const T *y = ys + (long)l * P * C;                                                    \
      const T *x = l ? ys + (long)(l - 1) * P * C : x0;                                     \
      for (long g = 0; g < P * C; g++) dz[g] = dy[g] * (1 - y[g] * y[g]);                   \
      T *gbl = gb + (long)l * C;                                                            \
      for (int c = 0; c < C; c++) gbl[c] = 0;                                               \
      for (long g = 0; g < P; g++)                                                          \
        for (int c = 0; c < C; c++) gbl[c] += dz[g * C + c];                                \
      wgrad_##SUF(x, dz, gw + (long)l * ntaps * C * C, src, nimg, npix, ntaps);             \
      const T *wl = w + (long)l * ntaps * C * C;                                            \
      for (int t = 0; t < ntaps; t++)                                                       \
        for (int ci = 0; ci < C; ci++)                                                      \
          for (int co = 0; co < C; co++)                                                    \
            wt[((long)t * C + co) * C + ci] = wl[((long)t * C + ci) * C + co];              \
      conv_##SUF(dz, l ? dy : gx, wt, dst, nimg, npix, ntaps);                              \
    }                                                                                       \
  }

DEFINE_TRAIN(f32_c8, float, tvf, 8, 1, 8, 8, act_f32)
DEFINE_TRAIN(f32_c16, float, tvf, 16, 2, 4, 4, act_f32)
DEFINE_TRAIN(f32_c32, float, tvf, 32, 4, 3, 2, act_f32)
DEFINE_TRAIN(f32_c64, float, tvf, 64, 8, 1, 1, act_f32)
DEFINE_TRAIN(f64_c8, double, tvd, 8, 2, 4, 4, act_f64)
DEFINE_TRAIN(f64_c16, double, tvd, 16, 4, 2, 2, act_f64)
DEFINE_TRAIN(f64_c32, double, tvd, 32, 8, 1, 1, act_f64)
DEFINE_TRAIN(f64_c64, double, tvd, 64, 16, 1, 1, act_f64)

/* An importable module exporting the channel counts it was compiled for; the functions
 * above are called through ctypes (spectra.training._fast). */
static struct PyModuleDef train_module = {PyModuleDef_HEAD_INIT, "_train_kernel",
                                          "Native training kernels (see spectra.training).",
                                          -1, NULL};

PyMODINIT_FUNC PyInit__train_kernel(void) {
  PyObject *m = PyModule_Create(&train_module);
  if (m == NULL) return NULL;
  if (PyModule_AddStringConstant(m, "channels", "8,16,32,64") < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
