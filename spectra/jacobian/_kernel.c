/* Native tangent pushes (spectra/jacobian/_native.py): orthogonal kernels in Algorithm 1's factored
 * form (this part), and any dense kernel by its taps (the second part, below).
 *
 * The kernel of Algorithm 1 ([T8]) is K = A_S ... A_1 H0 with 2-tap factors
 * A_j = P_j + (I - P_j) z_{axis_j}; writing P_j = O_j diag(1_{r_j}, 0) O_j^T (O_j orthogonal),
 * A_j = O_j Pi_j O_j^T where Pi_j keeps the first r_j coordinates and takes the others from
 * the neighbouring pixel along axis_j. So one circular conv with K is S + 1 channel
 * mixes M_0 = O_1^T H0, M_j = O_{j+1}^T O_j, M_S = sigma_w O_S, with the pixel shifts in
 * between: (S + 1) c^2 multiply-adds per pixel instead of k^dim c^2 (5 vs 9 for 3 x 3).
 *
 * Layout: tangents (images, pixels, c) (torch's channels-last), float32 or float64.
 * One layer l:  y_img[outidx[p]] = d_l[outidx[p]] * (M_S Pi_S ... M_1 Pi_1 M_0 x_img)(p)
 * Stage s reads coordinate k of its input from pixel p when k < ranks[l][s], else from
 * pixel shifts[s][p] (stage 0: ranks = c, no shift). Mt[l][s] holds M_s^T row-major, i.e.
 * column k of M_s is the contiguous Mt[l][s][k][:]. The call pushes every image through
 * ``nlayers`` consecutive layers while it sits in L1 (no pass over the whole batch per
 * layer: measured 1.3 -> 0.9 ms per layer at 1024 images, c = 16, on 2 cores).
 * scratch: 4 * npix * c elements. Images are independent: any split of [0, nimg) across
 * threads gives the same bits.
 *
 * Written with GCC/Clang vector extensions (64-byte vectors: one AVX-512 register, two
 * AVX2 ones), eight independent accumulators per step to cover the FMA latency; on x86-64
 * GCC builds AVX-512, AVX2 and baseline clones and picks one at load time.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>

/* The two entry points' parameters after the first (const T *in), written once: X(kind,
 * type, name) with kind p (pointer), l (long) or i (int). C_PARAM makes the C parameter
 * list; C_CODE the signature string that the module exports and the ctypes binding reads,
 * so the binding never restates the C signatures. */
#define ORTH_ARGS(X, T)                                                                     \
  X(p, T *, out) X(l, long, nimg) X(i, int, npix) X(i, int, nlayers) X(i, int, nst)       \
      X(p, const T *, Mt) X(p, const int *, ranks) X(p, const int *, shifts)              \
          X(p, const T *, d) X(p, const int *, outidx) X(p, T *, scratch)
#define TAPS_ARGS(X, T)                                                                     \
  X(p, T *, out) X(l, long, nimg) X(i, int, npix) X(i, int, nlayers) X(i, int, ntaps)     \
      X(p, const T *, Wt) X(p, const int *, shifts) X(p, const T *, d) X(p, T *, scratch)
#define C_PARAM(kind, type, name) , type name
#define C_CODE(kind, type, name) #kind

/* unaligned, may alias the element type: loads and stores straight from torch's buffers */
typedef float vf __attribute__((vector_size(64), aligned(4), may_alias));
typedef double vd __attribute__((vector_size(64), aligned(8), may_alias));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

/* one block of PB pixels starting at p0 of one stage; NV vectors per pixel (C = NV * lanes) */
#define STAGE_BLOCK(T, V, NV, PB)                                                           \
  do {                                                                                      \
    V acc[PB][NV];                                                                          \
    const T *xs[PB], *xt[PB];                                                               \
    for (int q = 0; q < PB; q++) {                                                          \
      for (int v = 0; v < NV; v++) acc[q][v] = (V){0};                                      \
      xs[q] = x + (size_t)(p0 + q) * C;                                                     \
      xt[q] = x + (size_t)shift[p0 + q] * C;                                                \
    }                                                                                       \
    for (int k = 0; k < r; k++) {                                                           \
      const V *m = (const V *)(Mt + (size_t)k * C);                                         \
      for (int q = 0; q < PB; q++)                                                          \
        for (int v = 0; v < NV; v++) acc[q][v] += m[v] * xs[q][k];                          \
    }                                                                                       \
    for (int k = r; k < C; k++) {                                                           \
      const V *m = (const V *)(Mt + (size_t)k * C);                                         \
      for (int q = 0; q < PB; q++)                                                          \
        for (int v = 0; v < NV; v++) acc[q][v] += m[v] * xt[q][k];                          \
    }                                                                                       \
    for (int q = 0; q < PB; q++) {                                                          \
      if (d) {                                                                              \
        size_t o = (size_t)outidx[p0 + q] * C;                                              \
        for (int v = 0; v < NV; v++) ((V *)(y + o))[v] = acc[q][v] * ((const V *)(d + o))[v]; \
      } else {                                                                              \
        for (int v = 0; v < NV; v++) ((V *)(y + (size_t)(p0 + q) * C))[v] = acc[q][v];      \
      }                                                                                     \
    }                                                                                       \
  } while (0)

#define DEFINE_LAYER(NAME, T, V, C_, NV_, PB_)                                              \
  static inline __attribute__((always_inline)) void NAME##_stage(                            \
      const T *restrict x, T *restrict y, const T *restrict Mt,                           \
                                  const int *restrict shift, int r, int npix,               \
                                  const T *restrict d, const int *restrict outidx) {        \
    enum { C = C_ };                                                                        \
    int p0 = 0;                                                                             \
    for (; p0 + PB_ <= npix; p0 += PB_) STAGE_BLOCK(T, V, NV_, PB_);                        \
    for (; p0 < npix; p0++) STAGE_BLOCK(T, V, NV_, 1);                                      \
  }                                                                                         \
  CLONES void NAME(const T *in ORTH_ARGS(C_PARAM, T)) {                                     \
    size_t img = (size_t)npix * C_;                                                         \
    T *stg[2] = {scratch, scratch + img}, *lay[2] = {scratch + 2 * img, scratch + 3 * img}; \
    for (long im = 0; im < nimg; im++) {                                                    \
      for (int l = 0; l < nlayers; l++) {                                                   \
        const T *lin = l == 0 ? in + im * img : lay[(l - 1) & 1];                           \
        T *lout = l == nlayers - 1 ? out + im * img : lay[l & 1];                           \
        for (int s = 0; s < nst; s++) {                                                     \
          int last = s == nst - 1;                                                          \
          NAME##_stage(s == 0 ? lin : stg[(s - 1) & 1], last ? lout : stg[s & 1],           \
                       Mt + ((size_t)l * nst + s) * C_ * C_, shifts + (size_t)s * npix,     \
                       ranks[l * nst + s], npix, last ? d + l * img : NULL, outidx);        \
        }                                                                                   \
      }                                                                                     \
    }                                                                                       \
  }

/* float32: 16 lanes per vector; float64: 8 lanes. NV * PB = 8 accumulators (16 for
 * float64 at c = 128). */
DEFINE_LAYER(orth_push_f32_c16, float, vf, 16, 1, 8)
DEFINE_LAYER(orth_push_f32_c32, float, vf, 32, 2, 4)
DEFINE_LAYER(orth_push_f32_c64, float, vf, 64, 4, 2)
DEFINE_LAYER(orth_push_f64_c16, double, vd, 16, 2, 4)
DEFINE_LAYER(orth_push_f64_c32, double, vd, 32, 4, 2)
DEFINE_LAYER(orth_push_f64_c64, double, vd, 64, 8, 1)
DEFINE_LAYER(orth_push_f32_c128, float, vf, 128, 8, 1)
DEFINE_LAYER(orth_push_f64_c128, double, vd, 128, 16, 1)

/* ---------------------------------------------------------------------------------------
 * Any dense kernel as its nonzero taps: y(p) = d(p) * sum_t W_t x(shifts[t][p]) for one
 * layer, W_t stored transposed (Wt[l][t][k][:] is column k of W_t), shifts (ntaps, npix)
 * shared by the run's layers. Same run-of-layers structure and threading contract as
 * above; scratch: 2 * npix * c elements.
 */
#define TAPS_BLOCK(T, V, NV, PB)                                                            \
  do {                                                                                      \
    V acc[PB][NV];                                                                          \
    for (int q = 0; q < PB; q++)                                                            \
      for (int v = 0; v < NV; v++) acc[q][v] = (V){0};                                      \
    for (int t = 0; t < ntaps; t++) {                                                       \
      const int *sh = shifts + (size_t)t * npix;                                            \
      const T *W = Wt + (size_t)t * C * C;                                                  \
      const T *xs[PB];                                                                      \
      for (int q = 0; q < PB; q++) xs[q] = x + (size_t)sh[p0 + q] * C;                      \
      for (int k = 0; k < C; k++) {                                                         \
        const V *m = (const V *)(W + (size_t)k * C);                                        \
        for (int q = 0; q < PB; q++)                                                        \
          for (int v = 0; v < NV; v++) acc[q][v] += m[v] * xs[q][k];                        \
      }                                                                                     \
    }                                                                                       \
    for (int q = 0; q < PB; q++) {                                                          \
      size_t o = (size_t)(p0 + q) * C;                                                      \
      for (int v = 0; v < NV; v++) ((V *)(y + o))[v] = acc[q][v] * ((const V *)(d + o))[v]; \
    }                                                                                       \
  } while (0)

#define DEFINE_TAPS(NAME, T, V, C_, NV_, PB_)                                               \
  static inline __attribute__((always_inline)) void NAME##_layer(                           \
      const T *restrict x, T *restrict y, const T *restrict Wt, const int *restrict shifts, \
      int ntaps, int npix, const T *restrict d) {                                           \
    enum { C = C_ };                                                                        \
    int p0 = 0;                                                                             \
    for (; p0 + PB_ <= npix; p0 += PB_) TAPS_BLOCK(T, V, NV_, PB_);                         \
    for (; p0 < npix; p0++) TAPS_BLOCK(T, V, NV_, 1);                                       \
  }                                                                                         \
  CLONES void NAME(const T *in TAPS_ARGS(C_PARAM, T)) {                                     \
    size_t img = (size_t)npix * C_;                                                         \
    T *lay[2] = {scratch, scratch + img};                                                   \
    for (long im = 0; im < nimg; im++) {                                                    \
      for (int l = 0; l < nlayers; l++) {                                                   \
        const T *lin = l == 0 ? in + im * img : lay[(l - 1) & 1];                           \
        T *lout = l == nlayers - 1 ? out + im * img : lay[l & 1];                           \
        NAME##_layer(lin, lout, Wt + (size_t)l * ntaps * C_ * C_, shifts, ntaps, npix,      \
                     d + l * img);                                                          \
      }                                                                                     \
    }                                                                                       \
  }

DEFINE_TAPS(taps_push_f32_c16, float, vf, 16, 1, 8)
DEFINE_TAPS(taps_push_f32_c32, float, vf, 32, 2, 4)
DEFINE_TAPS(taps_push_f32_c64, float, vf, 64, 4, 2)
DEFINE_TAPS(taps_push_f32_c128, float, vf, 128, 8, 1)
DEFINE_TAPS(taps_push_f64_c16, double, vd, 16, 2, 4)
DEFINE_TAPS(taps_push_f64_c32, double, vd, 32, 4, 2)
DEFINE_TAPS(taps_push_f64_c64, double, vd, 64, 8, 1)
DEFINE_TAPS(taps_push_f64_c128, double, vd, 128, 16, 1)

/* An importable (empty) module, so that the build and the package find it by name; the
 * functions above are called through ctypes (spectra.jacobian._native). */
static struct PyModuleDef native_module = {PyModuleDef_HEAD_INIT, "_kernel",
                                           "Native tangent pushes (see spectra.jacobian).", -1,
                                           NULL};

PyMODINIT_FUNC PyInit__kernel(void) {
  PyObject *m = PyModule_Create(&native_module);
  if (m == NULL) return NULL;
  /* whether the CPU runs the 64-byte-vector clone natively (AVX-512F): on AVX2 alone each
   * vector is split in two and the eight accumulators spill, and the conv route is faster */
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  int wide = __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
  int wide = 0;
#endif
  if (PyModule_AddIntConstant(m, "wide_vectors", wide) < 0 ||
      PyModule_AddStringConstant(m, "orth_signature", "p" ORTH_ARGS(C_CODE, float)) < 0 ||
      PyModule_AddStringConstant(m, "taps_signature", "p" TAPS_ARGS(C_CODE, float)) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
