/* stream_bench.cu: ground truth for the memory-hierarchy simulator.
 *
 * Runs synthetic expert-streaming workloads on the GPU: all experts in pinned
 * host memory, an LRU cache of expert slots in HBM per layer
 * (kernels/stream_sched.c decides hits and misses), misses served by one cudaMemcpyAsync per expert or
 * by one zero-copy gather kernel per layer, then a compute kernel of known
 * length per layer. Also times the link: pinned copies across sizes, zero-copy
 * gathers across row sizes, a dependent zero-copy load, device-to-device copies
 * and kernel launches.
 *
 *   bench_stream OUTDIR [--traces-only] [--only NAME]
 *
 * writes OUTDIR/stream_micro.csv, OUTDIR/stream_steps.csv,
 * OUTDIR/stream_profile.json (the profile's "measured" section) and
 * OUTDIR/traces/NAME.trace (the routing streams, for the simulator to replay).
 * --traces-only writes the traces and the schedule's counts without a GPU.
 */
#include <cuda_runtime.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <vector>

#include "stream_kernels.cuh"
#include "stream_sched.h"

#define CK(x) check_cuda((x), #x, __FILE__, __LINE__)
static void check_cuda(cudaError_t e, const char *what, const char *file, int line)
{
    if (e != cudaSuccess) {
        fprintf(stderr, "%s:%d: %s: %s\n", file, line, what, cudaGetErrorString(e));
        exit(1);
    }
}
#define CK_LAUNCH() CK(cudaGetLastError())

static const size_t MiB = 1 << 20;
static const int REPS = 7; /* timed repeats after one warm-up; medians reported */

static double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double host_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Everything the runs share. */
typedef struct bench {
    cudaStream_t stream;
    cudaEvent_t ev[4];
    cudaStream_t copy_stream[STREAM_MAX_CONCURRENCY]; /* side streams for spread copies */
    cudaEvent_t copy_ev[STREAM_MAX_CONCURRENCY];      /* each side stream's end of a batch */
    cudaEvent_t fork_ev;                              /* the main stream's point they wait for */
    char *host;       /* pinned, mapped: [host_bytes] */
    char *host_dev;   /* the same memory as the device sees it */
    size_t host_bytes;
    char *dev;        /* [dev_bytes] scratch in HBM */
    size_t dev_bytes;
    int2 *list;       /* [list_cap] gather lists on the device */
    size_t list_cap;
    int sms;
    FILE *micro;
} bench;

static double event_seconds(cudaEvent_t a, cudaEvent_t b)
{
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    return 1e-3 * ms;
}

/* Times fn(arg) on the stream between two events: one warm-up, REPS timed. */
template <typename F> static double time_stream(bench *b, F fn)
{
    std::vector<double> t;
    for (int r = 0; r <= REPS; r++) {
        CK(cudaEventRecord(b->ev[0], b->stream));
        fn();
        CK(cudaEventRecord(b->ev[1], b->stream));
        CK(cudaEventSynchronize(b->ev[1]));
        if (r)
            t.push_back(event_seconds(b->ev[0], b->ev[1]));
    }
    return median(t);
}

static void gather(bench *b, const int2 *list, int64_t n, size_t row_bytes, char *dst)
{
    if (n == 0)
        return;
    int64_t words = (int64_t)(row_bytes / 16), total = n * words;
    int64_t blocks = (total + 256 * GATHER_UNROLL - 1) / (256 * GATHER_UNROLL);
    blocks = std::min<int64_t>(blocks, (int64_t)b->sms * 16);
    gather_kernel<<<(unsigned)blocks, 256, 0, b->stream>>>((const uint4 *)b->host_dev,
                                                           (uint4 *)dst, list, n, words);
    CK_LAUNCH();
}

static void upload_list(bench *b, const std::vector<int2> &l)
{
    if (l.size() > b->list_cap) {
        fprintf(stderr, "gather list of %zu exceeds %zu\n", l.size(), b->list_cap);
        exit(1);
    }
    CK(cudaMemcpy(b->list, l.data(), l.size() * sizeof(int2), cudaMemcpyHostToDevice));
}

/* Issues n copies, copy(i, stream), on the main stream (streams <= 1) or
 * round-robin over side streams that start after the main stream's work so
 * far and that the main stream then waits for. */
template <typename F> static void copies(bench *b, int streams, int64_t n, F copy)
{
    if (streams <= 1) {
        for (int64_t i = 0; i < n; i++)
            copy(i, b->stream);
        return;
    }
    if (n == 0)
        return;
    CK(cudaEventRecord(b->fork_ev, b->stream));
    int used = (int)std::min<int64_t>(streams, n);
    for (int j = 0; j < used; j++)
        CK(cudaStreamWaitEvent(b->copy_stream[j], b->fork_ev, 0));
    for (int64_t i = 0; i < n; i++)
        copy(i, b->copy_stream[i % streams]);
    for (int j = 0; j < used; j++) {
        CK(cudaEventRecord(b->copy_ev[j], b->copy_stream[j]));
        CK(cudaStreamWaitEvent(b->stream, b->copy_ev[j], 0));
    }
}

/* ---- link microbenchmarks ---------------------------------------------- */

typedef struct link_fit {
    double copy_latency, copy_bandwidth, d2d_bandwidth, zc_latency, launch, gather_fixed;
    std::vector<std::pair<double, double>> gather; /* (row bytes, bytes/s) */
    std::vector<std::pair<double, double>> copy;   /* (bytes, seconds per copy, back to back) */
    std::vector<double> copy_issue, copy_device;   /* host / device seconds per copy <= 4 KB */
} link_fit;

static void micro_copies(bench *b, link_fit *f)
{
    static const size_t sizes[] = {256, 1024, 4096, 16384, 65536, 262144, MiB, 4 * MiB,
                                   16 * MiB, 64 * MiB};
    for (size_t s : sizes) {
        int n = (int)std::max<size_t>(16, std::min<size_t>(512, 1024 * MiB / s));
        size_t rows = b->host_bytes / s, drows = b->dev_bytes / s;
        std::vector<size_t> src(n);
        for (int i = 0; i < n; i++) /* scattered sources: odd multiplier permutes a power of 2 */
            src[i] = ((size_t)i * 2654435761u % rows) * s;
        double t = time_stream(b, [&] {
            for (int i = 0; i < n; i++)
                CK(cudaMemcpyAsync(b->dev + (i % drows) * s, b->host + src[i], s,
                                   cudaMemcpyHostToDevice, b->stream));
        });
        /* one copy alone, waited for by the host: what a synchronous caller sees */
        std::vector<double> one;
        for (int r = 0; r < 20; r++) {
            double h0 = host_seconds();
            CK(cudaMemcpyAsync(b->dev, b->host + src[r % n], s, cudaMemcpyHostToDevice,
                               b->stream));
            CK(cudaStreamSynchronize(b->stream));
            if (r >= 3)
                one.push_back(host_seconds() - h0);
        }
        /* the host's cost of issuing one copy (the GPU keeps up for small ones) */
        std::vector<double> issue;
        for (int r = 0; r <= REPS; r++) {
            CK(cudaStreamSynchronize(b->stream));
            double h0 = host_seconds();
            for (int i = 0; i < n; i++)
                CK(cudaMemcpyAsync(b->dev + (i % drows) * s, b->host + src[i], s,
                                   cudaMemcpyHostToDevice, b->stream));
            if (r)
                issue.push_back((host_seconds() - h0) / n);
        }
        CK(cudaStreamSynchronize(b->stream));
        /* the device's cost of one copy, without the host: the same copies as a graph */
        cudaGraph_t graph;
        cudaGraphExec_t exec;
        CK(cudaStreamBeginCapture(b->stream, cudaStreamCaptureModeThreadLocal));
        for (int i = 0; i < n; i++)
            CK(cudaMemcpyAsync(b->dev + (i % drows) * s, b->host + src[i], s,
                               cudaMemcpyHostToDevice, b->stream));
        CK(cudaStreamEndCapture(b->stream, &graph));
        CK(cudaGraphInstantiate(&exec, graph, 0));
        double tg = time_stream(b, [&] { CK(cudaGraphLaunch(exec, b->stream)); });
        CK(cudaGraphExecDestroy(exec));
        CK(cudaGraphDestroy(graph));
        f->copy.push_back({(double)s, t / n});
        if (s <= 4096) {
            f->copy_issue.push_back(median(issue));
            f->copy_device.push_back(tg / n);
        }
        fprintf(b->micro, "copy_batch,%zu,%d,%.9g,%.6g\n", s, n, t / n, s / (t / n));
        fprintf(b->micro, "copy_sync,%zu,1,%.9g,%.6g\n", s, median(one), s / median(one));
        fprintf(b->micro, "copy_issue,%zu,%d,%.9g,\n", s, n, median(issue));
        fprintf(b->micro, "copy_graph,%zu,%d,%.9g,%.6g\n", s, n, tg / n, s / (tg / n));
    }
    /* per-copy time = latency + bytes / bandwidth: the slope from the two
     * largest sizes, the intercept as the median over copies of <= 4 KB */
    size_t k = f->copy.size();
    double s1 = f->copy[k - 2].first, t1 = f->copy[k - 2].second;
    double s2 = f->copy[k - 1].first, t2 = f->copy[k - 1].second;
    f->copy_bandwidth = (s2 - s1) / (t2 - t1);
    std::vector<double> lat;
    for (auto &p : f->copy)
        if (p.first <= 4096)
            lat.push_back(p.second - p.first / f->copy_bandwidth);
    f->copy_latency = median(lat);
}

/* Copies spread over 1..8 streams: do per-copy costs overlap? */
static void micro_concurrency(bench *b)
{
    for (size_t s : {(size_t)4096, (size_t)65536, MiB}) {
        const int n = 512;
        size_t rows = b->host_bytes / s, drows = b->dev_bytes / s;
        for (int streams : {1, 2, 4, 8}) {
            double t = time_stream(b, [&] {
                copies(b, streams, n, [&](int64_t i, cudaStream_t st) {
                    CK(cudaMemcpyAsync(b->dev + (i % drows) * s,
                                       b->host + ((size_t)i * 2654435761u % rows) * s, s,
                                       cudaMemcpyHostToDevice, st));
                });
            });
            fprintf(b->micro, "copy_streams_%d,%zu,%d,%.9g,%.6g\n", streams, s, n, t / n,
                    s / (t / n));
        }
    }
}

static void micro_gathers(bench *b, link_fit *f)
{
    static const size_t rows_b[] = {256,       512,        1024,    2048,    4096,    8192,
                                    16384,     65536,      262144,  MiB,     4 * MiB, 16 * MiB,
                                    64 * MiB};
    for (size_t s : rows_b) {
        size_t total = std::max<size_t>(128 * MiB, 2 * s);
        int64_t n = (int64_t)(total / s);
        size_t rows = b->host_bytes / s;
        std::vector<int2> l(n);
        for (int64_t i = 0; i < n; i++)
            l[i] = make_int2((int)((size_t)i * 2654435761u % rows), (int)i);
        upload_list(b, l);
        double t = time_stream(b, [&] { gather(b, b->list, n, s, b->dev); });
        f->gather.push_back({(double)s, n * s / t});
        fprintf(b->micro, "gather,%zu,%lld,%.9g,%.6g\n", s, (long long)n, t, n * s / t);
    }
    /* fixed cost of one small gather launch between other work */
    std::vector<int2> l(256);
    for (int i = 0; i < 256; i++)
        l[i] = make_int2(i * 977, i);
    upload_list(b, l);
    for (int n : {1, 16, 256}) {
        const int iters = 200;
        double t = time_stream(b, [&] {
            for (int i = 0; i < iters; i++)
                gather(b, b->list, n, 256, b->dev);
        });
        fprintf(b->micro, "gather_small,256,%d,%.9g,%.6g\n", n, t / iters, n * 256 / (t / iters));
        if (n == 1)
            f->gather_fixed = t / iters;
    }
}

static void micro_misc(bench *b, link_fit *f)
{
    /* dependent loads: a random cycle through 4 KB-spaced words of host memory */
    const size_t stride = 512; /* uint64 words = 4 KB */
    size_t nodes = std::min<size_t>(b->host_bytes / 4096, 1 << 18);
    uint64_t *next = (uint64_t *)b->host;
    std::vector<uint64_t> perm(nodes);
    for (size_t i = 0; i < nodes; i++)
        perm[i] = i;
    uint64_t x = 12345;
    for (size_t i = nodes - 1; i > 0; i--) { /* Sattolo: one cycle */
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t j = (size_t)((x >> 33) % i);
        std::swap(perm[i], perm[j]);
    }
    for (size_t i = 0; i < nodes; i++)
        next[perm[i] * stride] = perm[(i + 1) % nodes] * stride;
    const int64_t hops = 20000;
    uint64_t *out = (uint64_t *)b->dev;
    double t = time_stream(b, [&] {
        chase_kernel<<<1, 1, 0, b->stream>>>((const uint64_t *)b->host_dev, hops, perm[0] * stride,
                                             out);
        CK_LAUNCH();
    });
    f->zc_latency = t / hops;
    fprintf(b->micro, "zc_latency,8,%lld,%.9g,\n", (long long)hops, t / hops);

    size_t half = b->dev_bytes / 2;
    t = time_stream(b, [&] {
        CK(cudaMemcpyAsync(b->dev + half, b->dev, half, cudaMemcpyDeviceToDevice, b->stream));
    });
    f->d2d_bandwidth = 2.0 * half / t;
    fprintf(b->micro, "d2d,%zu,1,%.9g,%.6g\n", half, t, 2.0 * half / t);

    const int iters = 2000;
    t = time_stream(b, [&] {
        for (int i = 0; i < iters; i++) {
            empty_kernel<<<1, 32, 0, b->stream>>>();
            CK_LAUNCH();
        }
    });
    f->launch = t / iters;
    fprintf(b->micro, "launch,0,%d,%.9g,\n", iters, t / iters);
}

/* ---- the streaming workloads ------------------------------------------- */

/* Two ways to issue a trace. AHEAD: the host knows all routing up front and
 * runs ahead of the GPU, so issuing the next layer's copies overlaps this
 * layer's compute. SYNC: a layer's routing is known only when the previous
 * layer's compute has ended (as in decoding, where the router's output picks
 * the experts), so the host waits for it before issuing the layer's loads. */
enum { MODE_AHEAD, MODE_SYNC, N_MODES };
static const char *const MODE_NAMES[N_MODES] = {"ahead", "sync"};

typedef struct step_result {
    double compute_s;   /* one layer's compute kernel alone, issued the same way */
    double step_s;      /* mean step time over the whole trace (cold cache at start) */
    double step_warm_s; /* mean over steps 2..S */
    double step_min_s, step_max_s;
    int verified;       /* slots whose tag matched after the last run, -1: mismatch */
} step_result;

static void layer_end(bench *b, int mode)
{
    if (mode == MODE_SYNC) {
        CK(cudaEventRecord(b->ev[3], b->stream));
        CK(cudaEventSynchronize(b->ev[3]));
    }
}

static void run_trace(bench *b, const stream_cfg *c, const stream_sched *s, int mode,
                      uint64_t spin_ns)
{
    int L = c->layers;
    size_t eb = c->expert_bytes;
    CK(cudaEventRecord(b->ev[0], b->stream));
    for (int st = 0; st < c->steps; st++) {
        for (int l = 0; l < L; l++) {
            int64_t m0 = s->miss_off[(size_t)st * L + l], m1 = s->miss_off[(size_t)st * L + l + 1];
            if (c->zerocopy) {
                gather(b, b->list + m0, m1 - m0, eb, b->dev);
            } else {
                copies(b, c->concurrency, m1 - m0, [&](int64_t i, cudaStream_t st) {
                    int64_t m = m0 + i;
                    CK(cudaMemcpyAsync(b->dev + (size_t)s->miss_slot[m] * eb,
                                       b->host + (size_t)s->miss_key[m] * eb, eb,
                                       cudaMemcpyHostToDevice, st));
                });
            }
            spin_kernel<<<1, 32, 0, b->stream>>>(spin_ns);
            CK_LAUNCH();
            layer_end(b, mode);
        }
        if (st == 0)
            CK(cudaEventRecord(b->ev[1], b->stream));
    }
    CK(cudaEventRecord(b->ev[2], b->stream));
    CK(cudaEventSynchronize(b->ev[2]));
}

/* Writes the tags into the host table and the miss list to the device. */
static void prepare_config(bench *b, const stream_cfg *c, const stream_sched *s)
{
    int L = c->layers;
    size_t eb = c->expert_bytes, table = (size_t)L * c->experts * eb;
    if (table > b->host_bytes || (size_t)c->cache_slots * eb > b->dev_bytes) {
        fprintf(stderr, "%s: needs %zu host / %zu device bytes\n", c->name, table,
                (size_t)c->cache_slots * eb);
        exit(1);
    }
    for (int32_t k = 0; k < L * c->experts; k++) /* tags: which expert a slot holds */
        *(uint64_t *)(b->host + (size_t)k * eb) = stream_tag(k);
    std::vector<int2> l(s->n_miss);
    for (int64_t m = 0; m < s->n_miss; m++)
        l[m] = make_int2(s->miss_key[m], s->miss_slot[m]);
    upload_list(b, l);
}

static step_result run_config(bench *b, const stream_cfg *c, const stream_sched *s, int mode)
{
    step_result r = {};
    size_t eb = c->expert_bytes;
    uint64_t spin_ns = (uint64_t)llround(c->compute_us * 1e3);
    int layers_total = c->layers * c->steps;
    r.compute_s = time_stream(b, [&] {
        for (int i = 0; i < layers_total; i++) {
            spin_kernel<<<1, 32, 0, b->stream>>>(spin_ns);
            CK_LAUNCH();
            layer_end(b, mode);
        }
    }) / layers_total;

    std::vector<double> all, warm;
    for (int rep = 0; rep <= REPS; rep++) {
        CK(cudaMemsetAsync(b->dev, 0xFF, (size_t)c->cache_slots * eb, b->stream)); /* poison */
        CK(cudaStreamSynchronize(b->stream));
        run_trace(b, c, s, mode, spin_ns);
        if (!rep)
            continue;
        all.push_back(event_seconds(b->ev[0], b->ev[2]) / c->steps);
        if (c->steps > 1)
            warm.push_back(event_seconds(b->ev[1], b->ev[2]) / (c->steps - 1));
    }
    r.step_s = median(all);
    r.step_warm_s = warm.empty() ? r.step_s : median(warm);
    r.step_min_s = *std::min_element(all.begin(), all.end());
    r.step_max_s = *std::max_element(all.begin(), all.end());

    std::vector<uint64_t> tags(c->cache_slots);
    CK(cudaMemcpy2D(tags.data(), 8, b->dev, eb, 8, c->cache_slots, cudaMemcpyDeviceToHost));
    for (int i = 0; i < c->cache_slots; i++) {
        if (s->slot_key[i] < 0)
            continue;
        if (tags[i] != stream_tag(s->slot_key[i])) {
            r.verified = -1;
            break;
        }
        r.verified++;
    }
    return r;
}

static void routing_name(const stream_cfg *c, char *buf, size_t n)
{
    if (c->zipf_s > 0)
        snprintf(buf, n, "zipf:%g", c->zipf_s);
    else
        snprintf(buf, n, "uniform");
}

static void write_profile(const char *dir, const link_fit *f, const char *device)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/stream_profile.json", dir);
    FILE *o = fopen(path, "w");
    if (!o) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    fprintf(o, "{\n  \"device\": \"%s\",\n  \"date\": \"%s\",\n", device, date);
    fprintf(o, "  \"copy_bandwidth\": %.4g,\n  \"copy_latency\": %.4g,\n", f->copy_bandwidth,
            f->copy_latency);
    fprintf(o, "  \"d2d_bandwidth\": %.4g,\n  \"zero_copy_latency\": %.4g,\n", f->d2d_bandwidth,
            f->zc_latency);
    fprintf(o, "  \"launch_overhead\": %.4g,\n  \"gather_fixed\": %.4g,\n", f->launch,
            f->gather_fixed);
    fprintf(o, "  \"copy_issue\": %.4g,\n  \"copy_device_latency\": %.4g,\n",
            median(f->copy_issue), median(f->copy_device));
    fprintf(o, "  \"gather\": [");
    for (size_t i = 0; i < f->gather.size(); i++)
        fprintf(o, "%s[%.0f, %.4g]", i ? ", " : "", f->gather[i].first, f->gather[i].second);
    fprintf(o, "],\n  \"copy_per_transfer\": [");
    for (size_t i = 0; i < f->copy.size(); i++)
        fprintf(o, "%s[%.0f, %.4g]", i ? ", " : "", f->copy[i].first, f->copy[i].second);
    fprintf(o, "]\n}\n");
    fclose(o);
}

static FILE *open_out(const char *dir, const char *name, const char *header)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    fprintf(f, "%s\n", header);
    return f;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUTDIR [--traces-only] [--only NAME]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *only = NULL;
    int traces_only = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--traces-only"))
            traces_only = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "%s: unknown option '%s'\n", argv[0], argv[i]);
            return 2;
        }
    }
    char tdir[4096];
    snprintf(tdir, sizeof tdir, "%s/traces", dir);
    mkdir(dir, 0755);
    mkdir(tdir, 0755);

    /* schedules and traces first: no GPU needed */
    const int n_configs = stream_n_configs;

    std::vector<stream_sched> sched(n_configs);
    char why[4200];
    int rc = stream_configs_prepare(tdir, sched.data(), stdout, why, sizeof why);
    if (rc) {
        fprintf(stderr, "%s\n", why);
        return rc;
    }
    if (traces_only)
        return 0;

    bench b = {};
    cudaError_t e = cudaSetDeviceFlags(cudaDeviceMapHost); /* before the context exists */
    if (e != cudaErrorSetOnActiveProcess)
        CK(e);
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    b.sms = prop.multiProcessorCount;
    printf("device %s, %d SMs, PCI %04x:%02x\n", prop.name, b.sms, prop.pciDomainID, prop.pciBusID);
    CK(cudaStreamCreateWithFlags(&b.stream, cudaStreamNonBlocking));
    for (auto &e : b.ev)
        CK(cudaEventCreate(&e));
    for (int j = 0; j < STREAM_MAX_CONCURRENCY; j++) {
        CK(cudaStreamCreateWithFlags(&b.copy_stream[j], cudaStreamNonBlocking));
        CK(cudaEventCreateWithFlags(&b.copy_ev[j], cudaEventDisableTiming));
    }
    CK(cudaEventCreateWithFlags(&b.fork_ev, cudaEventDisableTiming));
    b.host_bytes = 2048 * MiB;
    b.dev_bytes = 2048 * MiB;
    b.list_cap = 1 << 20;
    double h0 = host_seconds();
    CK(cudaHostAlloc((void **)&b.host, b.host_bytes, cudaHostAllocMapped | cudaHostAllocPortable));
    CK(cudaHostGetDevicePointer((void **)&b.host_dev, b.host, 0));
    memset(b.host, 0xA5, b.host_bytes); /* touched, not zeros */
    CK(cudaMalloc((void **)&b.dev, b.dev_bytes));
    CK(cudaMalloc((void **)&b.list, b.list_cap * sizeof(int2)));
    CK(cudaMemset(b.dev, 0x5A, b.dev_bytes));
    printf("pinned %zu MiB + device %zu MiB in %.2f s\n", b.host_bytes / MiB, b.dev_bytes / MiB,
           host_seconds() - h0);

    link_fit f = {};
    b.micro = open_out(dir, "stream_micro.csv", "kind,bytes,count,seconds,bytes_per_second");
    micro_copies(&b, &f);
    micro_concurrency(&b);
    micro_gathers(&b, &f);
    micro_misc(&b, &f);
    fclose(b.micro);
    memset(b.host, 0xA5, b.host_bytes); /* the chase wrote indices into it */
    write_profile(dir, &f, prop.name);
    printf("copy: %.3g s + bytes / %.4g B/s; d2d %.4g B/s; zero-copy load %.3g s; launch %.3g s; "
           "gather fixed %.3g s\n",
           f.copy_latency, f.copy_bandwidth, f.d2d_bandwidth, f.zc_latency, f.launch,
           f.gather_fixed);
    for (auto &p : f.gather)
        printf("gather %9.0f B rows: %.4g B/s\n", p.first, p.second);

    FILE *steps = open_out(dir, "stream_steps.csv",
                           "name,mode,layers,experts,per_token,batch,steps,expert_bytes,"
                           "cache_slots,routing,transfer,concurrency,compute_us,compute_s,accesses,misses,"
                           "step_s,step_warm_s,step_min_s,step_max_s,verified_slots");
    std::vector<step_result> res(n_configs * N_MODES);
    for (int i = 0; i < n_configs; i++) {
        const stream_cfg *c = &stream_configs[i];
        if (only && strcmp(only, c->name))
            continue;
        prepare_config(&b, c, &sched[i]);
        for (int mode = 0; mode < N_MODES; mode++) {
            step_result *r = &res[i * N_MODES + mode];
            *r = run_config(&b, c, &sched[i], mode);
            char routing[32];
            routing_name(c, routing, sizeof routing);
            fprintf(steps,
                    "%s,%s,%d,%d,%d,%d,%d,%zu,%d,%s,%s,%d,%g,%.9g,%lld,%lld,%.9g,%.9g,%.9g,%.9g,"
                    "%d\n",
                    c->name, MODE_NAMES[mode], c->layers, c->experts, c->per_token, c->batch,
                    c->steps, c->expert_bytes, c->cache_slots, routing,
                    c->zerocopy ? "zerocopy" : "copy", c->concurrency > 1 ? c->concurrency : 1,
                    c->compute_us, r->compute_s,
                    (long long)sched[i].n_access, (long long)sched[i].n_miss, r->step_s,
                    r->step_warm_s, r->step_min_s, r->step_max_s, r->verified);
            fflush(steps);
            if (r->verified < 0) {
                fprintf(stderr, "%s: a cache slot does not hold the expert the schedule says\n",
                        c->name);
                return 1;
            }
        }
    }
    fclose(steps);

    printf("\n%-16s %-5s %9s %-8s %9s %10s %10s %9s %6s\n", "config", "mode", "bytes", "transfer",
           "miss/step", "compute_us", "step_ms", "spread_%", "slots");
    for (int i = 0; i < n_configs; i++) {
        const stream_cfg *c = &stream_configs[i];
        if (only && strcmp(only, c->name))
            continue;
        for (int mode = 0; mode < N_MODES; mode++) {
            const step_result *r = &res[i * N_MODES + mode];
            printf("%-16s %-5s %9zu %-8s %9.1f %10.2f %10.4f %9.2f %6d\n", c->name,
                   MODE_NAMES[mode], c->expert_bytes, c->zerocopy ? "zerocopy" : "copy",
                   (double)sched[i].n_miss / c->steps, r->compute_s * 1e6, r->step_s * 1e3,
                   100 * (r->step_max_s - r->step_min_s) / r->step_s, r->verified);
        }
    }
    for (auto &s : sched)
        stream_sched_free(&s);
    CK(cudaFreeHost(b.host));
    CK(cudaFree(b.dev));
    CK(cudaFree(b.list));
    printf("stream_copy_bandwidth %.4g\n", f.copy_bandwidth);
    return 0;
}
