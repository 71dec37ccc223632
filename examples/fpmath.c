// fpmath.c - floating point and vector math whose output is deterministic for
// a given binary and CPU feature set: libm in double, float and long double,
// rounding modes, SSE2, AVX2 and AVX-512 intrinsics (each used only when
// __builtin_cpu_supports says so), and vector registers kept across a
// syscall. A native run and an Ember run of the same binary must print the
// same lines.
#include <fenv.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

static void scalar_math(void) {
    volatile double x = 0.7, y = 2.5;
    printf("double: sqrt=%.17g sin=%.17g cos=%.17g exp=%.17g log=%.17g pow=%.17g atan2=%.17g\n",
           sqrt(x), sin(x), cos(x), exp(y), log(y), pow(x, y), atan2(x, y));
    volatile float xf = 0.7f, yf = 2.5f;
    printf("float: sqrtf=%.9g sinf=%.9g expf=%.9g logf=%.9g fmaf=%.9g\n", sqrtf(xf), sinf(xf),
           expf(yf), logf(yf), fmaf(xf, yf, 1.0f));
    volatile long double xl = 2.0L;
    printf("long double: sqrtl=%.21Lg 1/3=%.21Lg\n", sqrtl(xl), xl / 3.0L * 0.5L);
    double sum = 0;
    for (int i = 1; i <= 1000; i++) sum += 1.0 / ((double)i * i);
    printf("basel(1000)=%.17g\n", sum);
    volatile double one = 1.0, three = 3.0;
    fesetround(FE_UPWARD);
    double up = one / three;
    fesetround(FE_DOWNWARD);
    double down = one / three;
    fesetround(FE_TONEAREST);
    printf("rounding: up=%a down=%a differ=%d\n", up, down, up != down);
    volatile double zero = 0.0;
    printf("special: inf=%g nan=%d denorm=%a\n", one / zero, isnan(zero / zero), 4.9e-324);
}

static void sse2_math(void) {
    __m128d a = _mm_set_pd(1.5, -2.25), b = _mm_set_pd(0.5, 4.0);
    __m128d r = _mm_sqrt_pd(_mm_add_pd(_mm_mul_pd(a, a), b));
    double d[2];
    _mm_storeu_pd(d, r);
    __m128i i = _mm_add_epi32(_mm_set_epi32(1, 2, 3, 4), _mm_set1_epi32(0x10000));
    int32_t n[4];
    _mm_storeu_si128((__m128i*)n, i);
    printf("sse2: %.17g %.17g | %d %d %d %d\n", d[0], d[1], n[0], n[1], n[2], n[3]);
}

__attribute__((target("avx2,fma"))) static void avx2_math(void) {
    __m256d a = _mm256_set_pd(1.0, 2.0, 3.0, 4.0), b = _mm256_set1_pd(0.1);
    __m256d r = _mm256_fmadd_pd(a, b, _mm256_set1_pd(1e-3));
    double d[4];
    _mm256_storeu_pd(d, r);
    __m256i x = _mm256_mullo_epi32(_mm256_set_epi32(1, 2, 3, 4, 5, 6, 7, 8), _mm256_set1_epi32(-3));
    int32_t n[8];
    _mm256_storeu_si256((__m256i*)n, x);
    printf("avx2: %.17g %.17g %.17g %.17g |", d[0], d[1], d[2], d[3]);
    for (int k = 0; k < 8; k++) printf(" %d", n[k]);
    printf("\n");
    // ymm8 must survive a syscall (getpid).
    uint64_t in[4] = {0x1111, 0x2222, 0x3333, 0x4444}, out[4] = {0};
    long ret;
    __asm__ volatile("vmovdqu %2, %%ymm8\n\tsyscall\n\tvmovdqu %%ymm8, %1"
                     : "=a"(ret), "=m"(out)
                     : "m"(in), "a"((long)SYS_getpid)
                     : "rcx", "r11", "memory", "xmm8");
    printf("avx2: ymm8 across syscall %s\n", memcmp(in, out, sizeof in) ? "CLOBBERED" : "kept");
}

__attribute__((target("avx512f"))) static void avx512_math(void) {
    __m512d a = _mm512_set_pd(1, 2, 3, 4, 5, 6, 7, 8);
    __m512d r = _mm512_sqrt_pd(_mm512_mul_pd(a, _mm512_set1_pd(1.25)));
    double d[8];
    _mm512_storeu_pd(d, r);
    printf("avx512f: sum=%.17g min=%.17g |", _mm512_reduce_add_pd(r), _mm512_reduce_min_pd(r));
    for (int k = 0; k < 8; k++) printf(" %.17g", d[k]);
    printf("\n");
    __mmask16 m = _mm512_cmpgt_epi32_mask(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32(9));
    printf("avx512f: mask=0x%04x\n", (unsigned)m);
    // zmm16 (only reachable with AVX-512 state enabled in XCR0) must survive a syscall.
    uint64_t in[8] = {1, 2, 3, 4, 5, 6, 7, 0x8888888888888888ull}, out[8] = {0};
    long ret;
    __asm__ volatile("vmovdqu64 %2, %%zmm16\n\tsyscall\n\tvmovdqu64 %%zmm16, %1"
                     : "=a"(ret), "=m"(out)
                     : "m"(in), "a"((long)SYS_getpid)
                     : "rcx", "r11", "memory", "xmm16");
    printf("avx512f: zmm16 across syscall %s\n", memcmp(in, out, sizeof in) ? "CLOBBERED" : "kept");
}

int main(void) {
    __builtin_cpu_init();
    scalar_math();
    sse2_math();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        avx2_math();
    else
        puts("avx2: not supported by this CPU");
    if (__builtin_cpu_supports("avx512f"))
        avx512_math();
    else
        puts("avx512f: not supported by this CPU");
    return 0;
}
