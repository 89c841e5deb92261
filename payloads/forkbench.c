/*
 * forkbench - devbench payload reproducing the Linux "anonymous VMA naming"
 * (v8, 2021) fork benchmark.
 *
 * A process creates N anonymous VMAs that cannot merge (one region, one guard
 * page unmapped after each VMA), optionally populates P pages of each with
 * pseudo-random data, and times fork() repeatedly with the VMAs named via
 * prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, ...) and/or unnamed.
 *
 * Output: JSON Lines on stdout (one object per line, flushed per line);
 * human-readable one-line messages on stderr prefixed "forkbench: ".
 *
 * Exit codes: 0 ok, 2 bad arguments, 3 kernel lacks anon VMA naming (unnamed
 * arm still ran), 4 vm.max_map_count too low, 5 out of memory, 6 VMA check
 * failed, 7 other system error.
 *
 * Build: zig cc -target x86_64-linux-musl -static -O2 -o forkbench forkbench.c
 *        gcc -O2 -static -Wall -Wextra -o forkbench forkbench.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif
#ifndef PR_SET_VMA_ANON_NAME
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

#define PAYLOAD_VERSION 4 /* 2: the child is held out of the timed fork; exit_ns.
                            * 3: the name checks count the payload's own VMAs (by
                            * address range); clearing is checked (clear: ok)
                            * 4: --unnamed-first (the ABBA order's first arm) */
#if defined(FORKBENCH_TEST_EXTRA_NAMED) || defined(FORKBENCH_TEST_KEEP_NAMES) || \
    defined(FORKBENCH_TEST_PARSE_MAPS) || defined(FORKBENCH_TRACE_CHILD)
#define TEST_BUILD 1 /* the start event says so: not a benchmark build */
#else
#define TEST_BUILD 0
#endif
#define NAME_MAX_LEN 79 /* ANON_VMA_NAME_MAX_LEN (80) minus the NUL */

enum {
    EXIT_OK = 0,
    EXIT_BAD_ARGS = 2,
    EXIT_NO_ANON_NAME = 3,
    EXIT_MAP_COUNT = 4,
    EXIT_OOM = 5,
    EXIT_VMA_CHECK = 6,
    EXIT_SYSTEM = 7
};

enum arm_mode { ARM_BOTH = 0, ARM_NAMED = 1, ARM_UNNAMED = 2 };

static const char *const arm_mode_names[] = {"both", "named", "unnamed"};

/* ------------------------------------------------------------------------ */
/* Time                                                                      */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t g_start_ns;

/* ------------------------------------------------------------------------ */
/* JSON output                                                               */

static void json_str(const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    putchar('"');
    for (; *p; p++) {
        unsigned char c = *p;
        switch (c) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        case '\b': fputs("\\b", stdout); break;
        case '\f': fputs("\\f", stdout); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                fputs("\\u00", stdout);
                putchar(hex[c >> 4]);
                putchar(hex[c & 15]);
            } else if (c >= 0x80) {
                /* Our messages are ASCII; escape anything else as a
                 * code point to stay valid JSON whatever the bytes are. */
                fputs("\\u00", stdout);
                putchar(hex[c >> 4]);
                putchar(hex[c & 15]);
            } else {
                putchar(c);
            }
        }
    }
    putchar('"');
}

static void line_end(void)
{
    fputs("}\n", stdout);
    fflush(stdout);
}

/* Start an error event; caller may append ",\"k\":v" fields, then line_end(). */
static void error_begin(const char *kind, const char *arm, int err,
                        const char *msg)
{
    fputs("{\"event\":\"error\",\"kind\":", stdout);
    json_str(kind);
    fputs(",\"arm\":", stdout);
    if (arm)
        json_str(arm);
    else
        fputs("null", stdout);
    if (err >= 0)
        printf(",\"errno\":%d", err);
    else
        fputs(",\"errno\":null", stdout);
    fputs(",\"message\":", stdout);
    json_str(msg);
    fprintf(stderr, "forkbench: %s\n", msg);
}

static void error_simple(const char *kind, const char *arm, int err,
                         const char *msg)
{
    error_begin(kind, arm, err, msg);
    line_end();
}

static int emit_end(int code)
{
    printf("{\"event\":\"end\",\"exit_code\":%d,\"elapsed_ns\":%" PRIu64,
           code, now_ns() - g_start_ns);
    line_end();
    return code;
}

/* ------------------------------------------------------------------------ */
/* Arguments                                                                 */

struct opts {
    uint64_t vmas, pages, name_length, forks, warmup, batches, first_batch, seed;
    int have_vmas, have_pages, have_name_length, have_forks;
    int shared_name;
    int placebo; /* A/A check: the "named" arm clears names instead of setting them */
    int unnamed_first; /* --arm both: even batches run unnamed first (default: named first) */
    enum arm_mode arm;
};

static int bad_args(const char *option, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_begin("bad-args", NULL, -1, msg);
    fputs(",\"option\":", stdout);
    if (option)
        json_str(option);
    else
        fputs("null", stdout);
    line_end();
    return emit_end(EXIT_BAD_ARGS);
}

/* Strict unsigned decimal parse. Returns 0 on success. */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !*s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: forkbench --vmas N --pages P --name-length L [--shared-name]\n"
          "                 --forks F [--warmup W (10)] [--batches B (1)] [--first-batch I (0)]\n"
          "                 [--arm both|named|unnamed (both)] [--seed S (1)]\n"
          "                 [--placebo (A/A: the named arm clears names, as the unnamed one)]\n"
          "                 [--unnamed-first (ABBA: even batches unnamed first)]\n"
          "                 [--version] [--help]\n"
          "Output: JSON Lines on stdout. Exit codes: 0 ok, 2 bad args,\n"
          "3 kernel lacks anon VMA naming, 4 max_map_count too low,\n"
          "5 out of memory, 6 VMA check failed, 7 other system error.\n",
          f);
}

enum {
    OPT_VMAS = 256, OPT_PAGES, OPT_NAME_LENGTH, OPT_SHARED_NAME, OPT_FORKS,
    OPT_WARMUP, OPT_BATCHES, OPT_FIRST_BATCH, OPT_ARM, OPT_SEED, OPT_VERSION, OPT_HELP,
    OPT_PLACEBO, OPT_UNNAMED_FIRST
};

static const struct option long_opts[] = {
    {"vmas", required_argument, NULL, OPT_VMAS},
    {"pages", required_argument, NULL, OPT_PAGES},
    {"name-length", required_argument, NULL, OPT_NAME_LENGTH},
    {"shared-name", no_argument, NULL, OPT_SHARED_NAME},
    {"forks", required_argument, NULL, OPT_FORKS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"batches", required_argument, NULL, OPT_BATCHES},
    {"first-batch", required_argument, NULL, OPT_FIRST_BATCH},
    {"arm", required_argument, NULL, OPT_ARM},
    {"seed", required_argument, NULL, OPT_SEED},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {"placebo", no_argument, NULL, OPT_PLACEBO},
    {"unnamed-first", no_argument, NULL, OPT_UNNAMED_FIRST},
    {NULL, 0, NULL, 0}
};

static const char *opt_name(int val)
{
    const struct option *o;
    for (o = long_opts; o->name; o++)
        if (o->val == val)
            return o->name;
    return "?";
}

/* Returns -1 to continue, otherwise an exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
    int c;
    char optbuf[96];
    memset(o, 0, sizeof *o);
    o->warmup = 10;
    o->batches = 1;
    o->seed = 1;
    o->arm = ARM_BOTH;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hV", long_opts, NULL)) != -1) {
        uint64_t v = 0;
        if (c >= OPT_VMAS && c <= OPT_SEED && c != OPT_SHARED_NAME &&
            c != OPT_ARM && parse_u64(optarg, &v) != 0) {
            snprintf(optbuf, sizeof optbuf, "--%s", opt_name(c));
            return bad_args(optbuf,
                            "%s needs a non-negative integer (got '%.80s')",
                            optbuf, optarg);
        }
        switch (c) {
        case OPT_VMAS:
            if (v < 1)
                return bad_args("--vmas", "--vmas must be >= 1 (got %" PRIu64 ")", v);
            o->vmas = v;
            o->have_vmas = 1;
            break;
        case OPT_PAGES:
            o->pages = v;
            o->have_pages = 1;
            break;
        case OPT_NAME_LENGTH:
            if (v < 1 || v > NAME_MAX_LEN)
                return bad_args("--name-length",
                                "--name-length must be 1..%d (got %" PRIu64 ")",
                                NAME_MAX_LEN, v);
            o->name_length = v;
            o->have_name_length = 1;
            break;
        case OPT_SHARED_NAME:
            o->shared_name = 1;
            break;
        case OPT_UNNAMED_FIRST:
            o->unnamed_first = 1;
            break;
        case OPT_PLACEBO:
            o->placebo = 1;
            break;
        case OPT_FORKS:
            if (v < 1)
                return bad_args("--forks", "--forks must be >= 1 (got %" PRIu64 ")", v);
            o->forks = v;
            o->have_forks = 1;
            break;
        case OPT_WARMUP:
            o->warmup = v;
            break;
        case OPT_BATCHES:
            if (v < 1)
                return bad_args("--batches", "--batches must be >= 1 (got %" PRIu64 ")", v);
            o->batches = v;
            break;
        case OPT_FIRST_BATCH:
            o->first_batch = v;
            break;
        case OPT_SEED:
            o->seed = v;
            break;
        case OPT_ARM:
            if (strcmp(optarg, "both") == 0)
                o->arm = ARM_BOTH;
            else if (strcmp(optarg, "named") == 0)
                o->arm = ARM_NAMED;
            else if (strcmp(optarg, "unnamed") == 0)
                o->arm = ARM_UNNAMED;
            else
                return bad_args("--arm",
                                "--arm must be both, named or unnamed (got '%s')",
                                optarg);
            break;
        case OPT_VERSION:
        case 'V':
            printf("{\"event\":\"version\",\"payload_version\":%d}\n",
                   PAYLOAD_VERSION);
            fflush(stdout);
            return EXIT_OK;
        case OPT_HELP:
        case 'h':
            usage(stdout);
            fflush(stdout);
            return EXIT_OK;
        case ':':
            if (optopt >= OPT_VMAS) {
                snprintf(optbuf, sizeof optbuf, "--%s", opt_name(optopt));
            } else if (optopt) {
                snprintf(optbuf, sizeof optbuf, "-%c", optopt);
            } else {
                snprintf(optbuf, sizeof optbuf, "%.80s", argv[optind - 1]);
            }
            return bad_args(optbuf, "option %s requires an argument", optbuf);
        case '?':
        default:
            if (optopt > 0 && optopt < 256)
                snprintf(optbuf, sizeof optbuf, "-%c", optopt);
            else
                snprintf(optbuf, sizeof optbuf, "%.80s", argv[optind - 1]);
            /* strip "=value" of an unknown --opt=value */
            {
                char *eq = strchr(optbuf, '=');
                if (eq)
                    *eq = '\0';
            }
            return bad_args(optbuf, "unknown option %s", optbuf);
        }
    }
    if (optind < argc)
        return bad_args(NULL, "unexpected argument '%.80s'", argv[optind]);
    if (!o->have_vmas)
        return bad_args("--vmas", "--vmas is required");
    if (!o->have_pages)
        return bad_args("--pages", "--pages is required");
    if (!o->have_name_length)
        return bad_args("--name-length", "--name-length is required");
    if (!o->have_forks)
        return bad_args("--forks", "--forks is required");
    if (o->first_batch >= o->batches)
        return bad_args("--first-batch",
                        "--first-batch must be < --batches (got %" PRIu64 " >= %" PRIu64 ")",
                        o->first_batch, o->batches);
    if (o->batches > o->forks)
        return bad_args("--batches",
                        "--batches must be <= --forks (got %" PRIu64 " > %" PRIu64 ")",
                        o->batches, o->forks);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* /proc helpers                                                             */

#ifndef FORKBENCH_MAPS_BUF
#define FORKBENCH_MAPS_BUF (1 << 20)
#endif
#ifndef FORKBENCH_MAPS_CHUNK /* most bytes asked of one read(); test builds make it small */
#define FORKBENCH_MAPS_CHUNK FORKBENCH_MAPS_BUF
#endif

static char g_maps_buf[FORKBENCH_MAPS_BUF]; /* static: reading maps never allocates */

/* What /proc/self/maps says, in all and about one address range [lo, hi): the
 * payload's own VMAs (lo = b.first, hi = b.first + vmas * stride). */
struct maps_count {
    uint64_t lines;          /* every mapping of the process */
    uint64_t anon_named;     /* every "[anon:" mapping of the process */
    uint64_t in_range;       /* mappings that overlap [lo, hi) */
    uint64_t named_in_range; /* of those, the ones whose path is "[anon:...]" */
};

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A hex number at s[*i..n): at least one digit, none beyond 64 bits. */
static int parse_hex(const char *s, size_t n, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    size_t j = *i;
    int d;
    while (j < n && (d = hex_digit(s[j])) >= 0) {
        if (v >> 60)
            return -1;
        v = v << 4 | (uint64_t)d;
        j++;
    }
    if (j == *i)
        return -1;
    *i = j;
    *out = v;
    return 0;
}

/* One line of maps (no newline): "start-end perms offset dev inode   path".
 * A line whose addresses do not parse is counted, never in range. */
static void maps_line(const char *s, size_t n, uint64_t lo, uint64_t hi,
                      struct maps_count *c)
{
    static const char anon[] = "[anon:";
    const size_t alen = sizeof anon - 1;
    uint64_t start = 0, end = 0;
    size_t i = 0;
    int field, named;
    c->lines++;
    if (parse_hex(s, n, &i, &start) != 0 || i >= n || s[i++] != '-' ||
        parse_hex(s, n, &i, &end) != 0)
        return;
    /* the path: after the five fields (range, perms, offset, dev, inode) */
    for (field = 1; field < 5; field++) {
        while (i < n && s[i] != ' ')
            i++;
        while (i < n && s[i] == ' ')
            i++;
    }
    while (i < n && s[i] != ' ')
        i++;
    while (i < n && s[i] == ' ')
        i++;
    named = n - i >= alen && memcmp(s + i, anon, alen) == 0;
    c->anon_named += (uint64_t)named;
    if (start < hi && end > lo) {
        c->in_range++;
        c->named_in_range += (uint64_t)named;
    }
}

/* Count the mappings of a maps file (/proc/self/maps), line by line: a line
 * split across read() calls is carried over; a line longer than the buffer is
 * counted by its head (addresses and path start) and its tail skipped.
 * Returns 0 on success, -1 (errno set) on failure. */
static int count_maps_file(const char *path, uint64_t lo, uint64_t hi,
                           struct maps_count *c)
{
    size_t have = 0, pos, room;
    int skipping = 0; /* in the tail of an over-long line */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    memset(c, 0, sizeof *c);
    if (fd < 0)
        return -1;
    for (;;) {
        ssize_t r;
        char *nl;
        room = sizeof g_maps_buf - have;
        r = read(fd, g_maps_buf + have,
                 room < (size_t)FORKBENCH_MAPS_CHUNK ? room : (size_t)FORKBENCH_MAPS_CHUNK);
        if (r < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            close(fd);
            errno = e;
            return -1;
        }
        if (r == 0)
            break;
        have += (size_t)r;
        pos = 0;
        while ((nl = memchr(g_maps_buf + pos, '\n', have - pos))) {
            size_t len = (size_t)(nl - (g_maps_buf + pos));
            if (!skipping)
                maps_line(g_maps_buf + pos, len, lo, hi, c);
            skipping = 0;
            pos += len + 1;
        }
        if (pos == 0 && have == sizeof g_maps_buf) {
            if (!skipping)
                maps_line(g_maps_buf, have, lo, hi, c);
            skipping = 1;
            have = 0;
        } else {
            memmove(g_maps_buf, g_maps_buf + pos, have - pos);
            have -= pos;
        }
    }
    close(fd);
    if (have && !skipping) /* a last line without its newline */
        maps_line(g_maps_buf, have, lo, hi, c);
    return 0;
}

static int count_maps(uint64_t lo, uint64_t hi, struct maps_count *c)
{
    return count_maps_file("/proc/self/maps", lo, hi, c);
}

/* Read a single unsigned integer from a file. */
static int read_u64_file(const char *path, uint64_t *out)
{
    char buf[64];
    ssize_t r;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return -1;
    buf[r] = '\0';
    {
        char *end;
        unsigned long long v = strtoull(buf, &end, 10);
        if (end == buf)
            return -1;
        *out = (uint64_t)v;
    }
    return 0;
}

static int read_mem_available_kb(uint64_t *out)
{
    char buf[8192];
    ssize_t r;
    size_t len = 0;
    char *p;
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (len < sizeof buf - 1 &&
           (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    buf[len] = '\0';
    p = strstr(buf, "MemAvailable:");
    if (!p)
        return -1;
    p += strlen("MemAvailable:");
    {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            return -1;
        *out = (uint64_t)v;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Arithmetic helpers                                                        */

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    if (a && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

static const char b62[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

static unsigned digits_u64(uint64_t v)
{
    unsigned d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

/* Write exactly len printable chars + NUL into buf (size >= len + 1).
 * Distinct per index: "dvb" + index zero-padded to len - 3 digits when it
 * fits, otherwise the index in base 62 over all len chars (distinct as far
 * as 62^len allows). Shared: "dvbshared" padded with 'x' / truncated. */
static void make_name(char *buf, unsigned len, uint64_t idx, unsigned idx_digits,
                      int shared)
{
    unsigned i;
    if (shared) {
        static const char base[] = "dvbshared";
        for (i = 0; i < len; i++)
            buf[i] = i < sizeof base - 1 ? base[i] : 'x';
    } else if (len >= 3 + idx_digits) {
        buf[0] = 'd';
        buf[1] = 'v';
        buf[2] = 'b';
        for (i = len; i > 3; i--) {
            buf[i - 1] = (char)('0' + idx % 10);
            idx /= 10;
        }
    } else {
        for (i = len; i > 0; i--) {
            buf[i - 1] = b62[idx % 62];
            idx /= 62;
        }
    }
    buf[len] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Benchmark state                                                           */

struct bench {
    struct opts o;
    size_t page;
    uint64_t vma_pages;     /* max(P, 1) */
    size_t vma_bytes;
    size_t stride;          /* vma_bytes + one guard page */
    char *first;            /* address of VMA 0 */
    uint64_t *samples;      /* ceil(F/B) entries: fork() as the parent sees it */
    uint64_t *exit_samples; /* ceil(F/B) entries: child release -> waitpid return */
    unsigned idx_digits;
    int named_supported;    /* probe result */
    int placebo_unnamed;    /* --placebo without the feature: the "named" arm runs, clearing nothing */
    int named_checked;
    int cleared_once;
    int final_code;         /* 3 if the named arm was impossible */
};

#if defined(FORKBENCH_TEST_EXTRA_NAMED) || defined(FORKBENCH_TEST_KEEP_NAMES)
/* Test builds only: VMAs of the payload's own that set_names() leaves alone,
 * the first, the middle and the last. */
static int test_skipped(const struct bench *b, uint64_t i)
{
    return i == 0 || i == b->o.vmas / 2 || i == b->o.vmas - 1;
}
#endif

#ifdef FORKBENCH_TEST_EXTRA_NAMED
#define TEST_EXTRA_VMAS 4
/* Test build only (-DFORKBENCH_TEST_EXTRA_NAMED): naming leaves three of the
 * payload's VMAs unnamed and names TEST_EXTRA_VMAS mappings outside its range,
 * so the process has more "[anon:" lines than it has VMAs: a count of every
 * such line passes, the check of the payload's own range must fail. */
static int test_extra_named(const struct bench *b, int *err)
{
    size_t i;
    char *extra = mmap(NULL, 2 * TEST_EXTRA_VMAS * b->page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (extra == (void *)MAP_FAILED) {
        *err = errno;
        return -1;
    }
    for (i = 0; i < TEST_EXTRA_VMAS; i++) {
        char *at = extra + 2 * i * b->page;
        if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)at,
                  (unsigned long)b->page, (unsigned long)"dvbextra") != 0) {
            *err = errno;
            return -1;
        }
    }
    return 0;
}
#endif

static int set_names(struct bench *b, int clear, int *err)
{
    char name[NAME_MAX_LEN + 1];
    uint64_t i;
#ifdef FORKBENCH_TEST_EXTRA_NAMED
    static int extra_done;
    if (!clear && !extra_done) {
        if (test_extra_named(b, err) != 0)
            return -1;
        extra_done = 1;
    }
#endif
    for (i = 0; i < b->o.vmas; i++) {
        char *addr = b->first + (size_t)i * b->stride;
        unsigned long nameptr = 0;
#ifdef FORKBENCH_TEST_EXTRA_NAMED
        if (!clear && test_skipped(b, i))
            continue;
#endif
#ifdef FORKBENCH_TEST_KEEP_NAMES /* test build: clearing leaves three names */
        if (clear && test_skipped(b, i))
            continue;
#endif
        if (!clear) {
            make_name(name, (unsigned)b->o.name_length, i, b->idx_digits,
                      b->o.shared_name);
            nameptr = (unsigned long)name;
        }
        if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)addr,
                  (unsigned long)b->vma_bytes, nameptr) != 0) {
            *err = errno;
            return -1;
        }
    }
    return 0;
}

static void emit_batch(uint64_t batch, const char *arm, uint64_t warmup,
                       const uint64_t *s, const uint64_t *x, uint64_t k,
                       uint64_t prep_ns, int partial)
{
    uint64_t i;
    printf("{\"event\":\"batch\",\"batch\":%" PRIu64 ",\"arm\":\"%s\","
           "\"warmup\":%" PRIu64 ",\"forks\":%" PRIu64 ",\"fork_ns\":[",
           batch, arm, warmup, k);
    for (i = 0; i < k; i++)
        printf(i ? ",%" PRIu64 : "%" PRIu64, s[i]);
    fputs("],\"exit_ns\":[", stdout);
    for (i = 0; i < k; i++)
        printf(i ? ",%" PRIu64 : "%" PRIu64, x[i]);
    printf("],\"prep_ns\":%" PRIu64, prep_ns);
    if (partial)
        fputs(",\"partial\":true", stdout);
    line_end();
}

#ifdef FORKBENCH_TRACE_CHILD
/* Test build only (-DFORKBENCH_TRACE_CHILD): the child stamps the clock on a
 * shared page as it starts to exit, and stderr gets one line per fork with
 * that stamp minus the parent's second clock read: never negative when the
 * child is held out of the timed window. */
static volatile uint64_t *g_child_stamp;
#endif

/* One fork, timed alone, then the child's exit, timed alone.
 *
 * The child is held on a socket until the parent has read its second clock: a
 * child that ran first on the parent's CPU would otherwise put its whole exit
 * (every VMA torn down, every name reference dropped) inside the timed fork.
 * Then the parent releases it and times release -> waitpid return (*exit_dt):
 * the name's cost lies on both paths (vm_area_dup takes a reference, the
 * child's teardown drops it).
 * Returns 0, or -1 with *err (errno) / *status set. */
static int one_fork(uint64_t *dt, uint64_t *exit_dt, int *err, int *status)
{
    uint64_t t0, t1, t2, t3;
    pid_t pid, w;
    int st = 0, hold[2];
    char c = 0;
    ssize_t n;
    /* a socket pair, not a pipe: send(MSG_NOSIGNAL) to a child that is gone
     * fails with EPIPE instead of raising SIGPIPE, and SIGPIPE keeps its
     * default (a closed stdout still ends the payload) */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, hold) != 0) {
        *err = errno;
        *status = -1;
        return -1;
    }
    t0 = now_ns();
    pid = fork();
    if (pid == 0) {
        close(hold[1]);
        do {
            n = read(hold[0], &c, 1); /* blocks until released (or EOF) */
        } while (n < 0 && errno == EINTR);
#ifdef FORKBENCH_TRACE_CHILD
        *g_child_stamp = now_ns();
#endif
        _exit(0);
    }
    t1 = now_ns();
    close(hold[0]);
    if (pid < 0) {
        *err = errno;
        close(hold[1]);
        *status = -1;
        return -1;
    }
    t2 = now_ns();
    do {
        n = send(hold[1], &c, 1, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    close(hold[1]); /* EOF releases the child even if the send failed */
    do {
        w = waitpid(pid, &st, 0);
    } while (w < 0 && errno == EINTR);
    t3 = now_ns();
    if (w < 0) {
        *err = errno;
        *status = -1;
        return -1;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        *err = -1;
        *status = st;
        return -1;
    }
    *dt = t1 - t0;
    *exit_dt = t3 - t2;
#ifdef FORKBENCH_TRACE_CHILD
    fprintf(stderr, "forkbench-trace: child_exit_after_t1_ns=%" PRId64 "\n",
            (int64_t)(*g_child_stamp - t1));
#endif
    return 0;
}

/* Check the names of the payload's own VMAs, the mappings that overlap
 * [b.first, b.first + vmas * stride) in /proc/self/maps (other named VMAs of
 * the process do not count): after naming (want_named), every one of them
 * carries a name; after clearing, none does. Emits the check event ("named_check"
 * or "clear"), and on a failed check a vma-check-failed error whose "stage" is
 * that event. Returns 0 or an exit code. */
static int check_names(struct bench *b, const char *arm, const char *event,
                       int want_named, uint64_t prep_ns)
{
    struct maps_count c;
    uint64_t lo = (uint64_t)(uintptr_t)b->first;
    uint64_t hi = lo + b->o.vmas * (uint64_t)b->stride;
    uint64_t want = want_named ? b->o.vmas : 0;
    int clear = strcmp(event, "clear") == 0, ok;
    char msg[320];
    if (count_maps(lo, hi, &c) != 0) {
        int e = errno;
        snprintf(msg, sizeof msg, "reading /proc/self/maps failed: %s", strerror(e));
        error_simple("maps-read-failed", arm, e, msg);
        return EXIT_SYSTEM;
    }
    ok = c.in_range == b->o.vmas && c.named_in_range == want;
    printf("{\"event\":\"%s\",\"%s\":%" PRIu64 ",\"anon_lines\":%" PRIu64
           ",\"maps_in_range\":%" PRIu64 ",\"named_in_range\":%" PRIu64
           ",\"vmas_expected\":%" PRIu64 ",\"ok\":%s",
           event, clear ? "clear_ns" : "name_ns", prep_ns, c.anon_named,
           c.in_range, c.named_in_range, want, ok ? "true" : "false");
    if (!clear)
        printf(",\"placebo\":%s", b->o.placebo ? "true" : "false");
    line_end();
    if (ok)
        return 0;
    if (c.in_range != b->o.vmas)
        snprintf(msg, sizeof msg,
                 "%s: the payload's address range holds %" PRIu64
                 " mappings, not its %" PRIu64 " VMAs",
                 clear ? "after clearing names" : "after naming", c.in_range, b->o.vmas);
    else if (want)
        snprintf(msg, sizeof msg,
                 "only %" PRIu64 " of the payload's %" PRIu64
                 " VMAs carry an anon name (%" PRIu64 " named in the whole process)",
                 c.named_in_range, b->o.vmas, c.anon_named);
    else
        snprintf(msg, sizeof msg,
                 "%s left %" PRIu64 " of the payload's %" PRIu64 " VMAs named",
                 clear ? "clearing names" : "the placebo arm's clearing",
                 c.named_in_range, b->o.vmas);
    error_begin("vma-check-failed", arm, -1, msg);
    printf(",\"stage\":\"%s\",\"anon_lines\":%" PRIu64 ",\"maps_in_range\":%" PRIu64
           ",\"named_in_range\":%" PRIu64 ",\"vmas_expected\":%" PRIu64,
           event, c.anon_named, c.in_range, c.named_in_range, want);
    line_end();
    return EXIT_VMA_CHECK;
}

/* Run one arm-batch: prepare names, warm up, time k forks, emit batch.
 * Returns 0 or an exit code. */
static int run_arm_batch(struct bench *b, uint64_t batch, int named, uint64_t k)
{
    const char *arm = named ? "named" : "unnamed";
    uint64_t prep0 = now_ns(), prep_ns, i;
    int err = 0, status = 0, rc;
    char msg[256];

    if (named) {
        if (b->named_supported && !(b->o.arm == ARM_NAMED && b->named_checked)) {
            if (set_names(b, b->o.placebo, &err) != 0) {
                snprintf(msg, sizeof msg, "naming VMAs failed: %s", strerror(err));
                error_simple("prctl-failed", arm, err, msg);
                return EXIT_SYSTEM;
            }
        }
        prep_ns = now_ns() - prep0;
        if (!b->named_checked) {
            b->named_checked = 1;
            /* placebo: the "named" arm cleared names; none may be left */
            rc = check_names(b, arm, "named_check", !b->o.placebo, prep_ns);
            if (rc)
                return rc;
        }
    } else {
        if (b->named_supported && b->o.arm == ARM_BOTH) {
            if (set_names(b, 1, &err) != 0) {
                snprintf(msg, sizeof msg, "clearing VMA names failed: %s",
                         strerror(err));
                error_simple("prctl-failed", arm, err, msg);
                return EXIT_SYSTEM;
            }
        }
        prep_ns = now_ns() - prep0;
        if (b->named_supported && b->o.arm == ARM_BOTH && !b->cleared_once) {
            b->cleared_once = 1;
            rc = check_names(b, arm, "clear", 0, prep_ns);
            if (rc)
                return rc;
        }
    }

    for (i = 0; i < b->o.warmup; i++) {
        uint64_t dummy, dummy_exit;
        if (one_fork(&dummy, &dummy_exit, &err, &status) != 0)
            goto fail_warm;
    }
    for (i = 0; i < k; i++) {
        if (one_fork(&b->samples[i], &b->exit_samples[i], &err, &status) != 0)
            goto fail;
    }
    emit_batch(batch, arm, b->o.warmup, b->samples, b->exit_samples, k, prep_ns, 0);
    return 0;

fail:
    if (i > 0)
        emit_batch(batch, arm, b->o.warmup, b->samples, b->exit_samples, i, prep_ns, 1);
fail_warm:
    if (status == -1) {
        snprintf(msg, sizeof msg, "fork/wait failed: %s", strerror(err));
        error_simple("fork-failed", arm, err, msg);
    } else {
        snprintf(msg, sizeof msg, "child did not exit cleanly (wait status 0x%x)",
                 (unsigned)status);
        error_simple("fork-failed", arm, -1, msg);
    }
    return EXIT_SYSTEM;
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    struct bench b;
    struct opts *o = &b.o;
    uint64_t max_map = 0, mem_kb = 0, maps_now = 0, maps_needed;
    int have_max, have_mem, rc;
    char msg[320];
    uint64_t per_batch_max, nb, bi;
    uint64_t total_pages, region_bytes64;
    size_t region_bytes;
    char *region;
    uint64_t maps_before = 0, maps_after = 0, t0, map_ns, populate_ns;
    struct maps_count mc;
    long ps;

    g_start_ns = now_ns();
#ifdef FORKBENCH_TEST_PARSE_MAPS
    /* Test build only: forkbench --parse-maps FILE LO HI (hex) counts FILE as
     * it counts /proc/self/maps, for the range [LO, HI), and prints the counts. */
    if (argc == 5 && strcmp(argv[1], "--parse-maps") == 0) {
        struct maps_count pc;
        uint64_t lo = 0, hi = 0;
        size_t i = 0, j = 0;
        if (parse_hex(argv[3], strlen(argv[3]), &i, &lo) != 0 || argv[3][i] ||
            parse_hex(argv[4], strlen(argv[4]), &j, &hi) != 0 || argv[4][j])
            return EXIT_BAD_ARGS;
        if (count_maps_file(argv[2], lo, hi, &pc) != 0) {
            perror("forkbench: --parse-maps");
            return EXIT_SYSTEM;
        }
        printf("{\"event\":\"maps\",\"lines\":%" PRIu64 ",\"anon_lines\":%" PRIu64
               ",\"maps_in_range\":%" PRIu64 ",\"named_in_range\":%" PRIu64 "}\n",
               pc.lines, pc.anon_named, pc.in_range, pc.named_in_range);
        return EXIT_OK;
    }
#endif
#ifdef FORKBENCH_TRACE_CHILD
    g_child_stamp = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_child_stamp == (void *)MAP_FAILED)
        return 7;
#endif
    memset(&b, 0, sizeof b);
    rc = parse_args(argc, argv, o);
    if (rc >= 0)
        return rc;

    ps = sysconf(_SC_PAGESIZE);
    b.page = ps > 0 ? (size_t)ps : 4096;
    b.vma_pages = o->pages ? o->pages : 1;
    b.idx_digits = digits_u64(o->vmas - 1);

    have_max = read_u64_file("/proc/sys/vm/max_map_count", &max_map) == 0;
    have_mem = read_mem_available_kb(&mem_kb) == 0;
    maps_now = count_maps(0, 0, &mc) == 0 ? mc.lines : 0;
    maps_needed = sat_add(sat_add(maps_now, o->vmas), 16);

    printf("{\"event\":\"start\",\"payload_version\":%d,\"pid\":%ld,"
           "\"page_size\":%zu,\"vmas\":%" PRIu64 ",\"pages\":%" PRIu64
           ",\"vma_pages\":%" PRIu64 ",\"name_length\":%" PRIu64
           ",\"shared_name\":%s,\"forks\":%" PRIu64 ",\"warmup\":%" PRIu64
           ",\"batches\":%" PRIu64 ",\"arm\":\"%s\",\"seed\":%" PRIu64
           ",\"placebo\":%s,\"first_arm\":\"%s\"",
           PAYLOAD_VERSION, (long)getpid(), b.page, o->vmas, o->pages,
           b.vma_pages, o->name_length, o->shared_name ? "true" : "false",
           o->forks, o->warmup, o->batches, arm_mode_names[o->arm], o->seed,
           o->placebo ? "true" : "false", o->unnamed_first ? "unnamed" : "named");
    if (TEST_BUILD)
        fputs(",\"test_build\":true", stdout);
    if (have_max)
        printf(",\"max_map_count\":%" PRIu64, max_map);
    else
        fputs(",\"max_map_count\":null", stdout);
    printf(",\"maps_needed\":%" PRIu64, maps_needed);
    if (have_mem)
        printf(",\"mem_available_kb\":%" PRIu64, mem_kb);
    else
        fputs(",\"mem_available_kb\":null", stdout);
    line_end();

    /* ---- pre-flight checks (nothing mapped yet) ---- */
    if (have_max && maps_needed > max_map) {
        snprintf(msg, sizeof msg,
                 "vm.max_map_count too low: need %" PRIu64 " maps, max is %" PRIu64,
                 maps_needed, max_map);
        error_begin("max-map-count-too-low", NULL, -1, msg);
        printf(",\"needed\":%" PRIu64 ",\"max\":%" PRIu64 ",\"current\":%" PRIu64,
               maps_needed, max_map, maps_now);
        line_end();
        return emit_end(EXIT_MAP_COUNT);
    }
    if (have_mem) {
        uint64_t need = sat_add(sat_mul(sat_mul(o->vmas, o->pages), b.page),
                                sat_mul(o->vmas, 64));
        uint64_t avail = sat_mul(mem_kb, 1024);
        if (need > avail) {
            snprintf(msg, sizeof msg,
                     "not enough memory: need %" PRIu64 " bytes, %" PRIu64
                     " bytes available",
                     need, avail);
            error_begin("out-of-memory", NULL, -1, msg);
            printf(",\"needed\":%" PRIu64 ",\"available\":%" PRIu64, need, avail);
            line_end();
            return emit_end(EXIT_OOM);
        }
    }
    /* Region size: N * (vma_pages + 1) + 1 pages (leading guard too). */
    total_pages = sat_add(sat_mul(o->vmas, sat_add(b.vma_pages, 1)), 1);
    region_bytes64 = sat_mul(total_pages, b.page);
    if (region_bytes64 == UINT64_MAX || region_bytes64 > (uint64_t)SIZE_MAX ||
        sat_mul(b.vma_pages, b.page) > (uint64_t)SIZE_MAX / 2) {
        snprintf(msg, sizeof msg,
                 "mapping of %" PRIu64 " pages does not fit the address space",
                 total_pages);
        error_begin("out-of-memory", NULL, ENOMEM, msg);
        printf(",\"needed\":%" PRIu64 ",\"available\":null", region_bytes64);
        line_end();
        return emit_end(EXIT_OOM);
    }
    region_bytes = (size_t)region_bytes64;
    b.vma_bytes = (size_t)b.vma_pages * b.page;
    b.stride = b.vma_bytes + b.page;

    per_batch_max = o->forks / o->batches + (o->forks % o->batches ? 1 : 0);
    if (per_batch_max > (uint64_t)SIZE_MAX / sizeof(uint64_t) ||
        !(b.samples = calloc((size_t)per_batch_max, sizeof(uint64_t))) ||
        !(b.exit_samples = calloc((size_t)per_batch_max, sizeof(uint64_t)))) {
        snprintf(msg, sizeof msg, "cannot allocate %" PRIu64 " fork samples",
                 per_batch_max);
        error_begin("out-of-memory", NULL, ENOMEM, msg);
        printf(",\"needed\":%" PRIu64 ",\"available\":null",
               sat_mul(per_batch_max, 2 * sizeof(uint64_t)));
        line_end();
        return emit_end(EXIT_OOM);
    }

    /* ---- feature probe on a throw-away mapping ---- */
    if (o->arm != ARM_UNNAMED) {
        void *p = mmap(NULL, b.page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        int e;
        if (p == MAP_FAILED) {
            e = errno;
            snprintf(msg, sizeof msg, "probe mmap failed: %s", strerror(e));
            error_simple(e == ENOMEM ? "out-of-memory" : "mmap-failed", NULL, e, msg);
            return emit_end(e == ENOMEM ? EXIT_OOM : EXIT_SYSTEM);
        }
        rc = prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p,
                   (unsigned long)b.page, (unsigned long)"dvbprobe");
        e = errno;
        munmap(p, b.page);
        if (rc == 0) {
            b.named_supported = 1;
        } else if (e == EINVAL && o->placebo) {
            /* A/A on a kernel without the feature: no VMA can carry a name,
             * so the placebo arm has none to clear; it runs, naming nothing */
            b.placebo_unnamed = 1;
        } else if (e == EINVAL) {
            b.final_code = EXIT_NO_ANON_NAME;
            error_simple("kernel-lacks-anon-vma-name", "named", e,
                         "kernel lacks CONFIG_ANON_VMA_NAME: "
                         "prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME) returned EINVAL; "
                         "named arm skipped");
        } else {
            snprintf(msg, sizeof msg,
                     "prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME) probe failed: %s",
                     strerror(e));
            error_simple("prctl-failed", "named", e, msg);
            return emit_end(EXIT_SYSTEM);
        }
    }

    /* ---- create exactly N non-mergeable VMAs ---- */
    if (count_maps(0, 0, &mc) != 0) {
        int e = errno;
        snprintf(msg, sizeof msg, "reading /proc/self/maps failed: %s", strerror(e));
        error_simple("maps-read-failed", NULL, e, msg);
        return emit_end(EXIT_SYSTEM);
    }
    maps_before = mc.lines;
    t0 = now_ns();
    region = mmap(NULL, region_bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED) {
        int e = errno;
        snprintf(msg, sizeof msg, "mmap of %zu bytes failed: %s", region_bytes,
                 strerror(e));
        error_begin(e == ENOMEM ? "out-of-memory" : "mmap-failed", NULL, e, msg);
        printf(",\"needed\":%zu,\"available\":null", region_bytes);
        line_end();
        return emit_end(e == ENOMEM ? EXIT_OOM : EXIT_SYSTEM);
    }
    /* leading guard page, then one guard page after each VMA */
    b.first = region + b.page;
    if (munmap(region, b.page) != 0) {
        int e = errno;
        snprintf(msg, sizeof msg, "munmap of leading guard failed: %s", strerror(e));
        error_simple(e == ENOMEM ? "max-map-count-too-low" : "munmap-failed",
                     NULL, e, msg);
        return emit_end(e == ENOMEM ? EXIT_MAP_COUNT : EXIT_SYSTEM);
    }
    for (bi = 0; bi < o->vmas; bi++) {
        char *guard = b.first + (size_t)bi * b.stride + b.vma_bytes;
        if (munmap(guard, b.page) != 0) {
            int e = errno;
            snprintf(msg, sizeof msg,
                     "munmap of guard page %" PRIu64 " failed: %s", bi, strerror(e));
            if (e == ENOMEM) {
                error_begin("max-map-count-too-low", NULL, e, msg);
                printf(",\"needed\":%" PRIu64 ",\"max\":", maps_needed);
                if (have_max)
                    printf("%" PRIu64, max_map);
                else
                    fputs("null", stdout);
                line_end();
                return emit_end(EXIT_MAP_COUNT);
            }
            error_simple("munmap-failed", NULL, e, msg);
            return emit_end(EXIT_SYSTEM);
        }
    }
    map_ns = now_ns() - t0;

    /* ---- populate first P pages of each VMA with xorshift64 data ---- */
    t0 = now_ns();
    if (o->pages) {
        uint64_t sm = o->seed, x = splitmix64(&sm);
        size_t words = b.page / sizeof(uint64_t), w;
        if (!x)
            x = 0x9E3779B97F4A7C15ull;
        for (bi = 0; bi < o->vmas; bi++) {
            uint64_t *q = (uint64_t *)(void *)(b.first + (size_t)bi * b.stride);
            size_t n = (size_t)o->pages * words;
            for (w = 0; w < n; w++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                q[w] = x;
            }
        }
    }
    populate_ns = now_ns() - t0;

    if (count_maps(0, 0, &mc) != 0) {
        int e = errno;
        snprintf(msg, sizeof msg, "reading /proc/self/maps failed: %s", strerror(e));
        error_simple("maps-read-failed", NULL, e, msg);
        return emit_end(EXIT_SYSTEM);
    }
    maps_after = mc.lines;
    {
        int64_t created = (int64_t)maps_after - (int64_t)maps_before;
        int ok = created == (int64_t)o->vmas;
        printf("{\"event\":\"setup\",\"maps_before\":%" PRIu64
               ",\"maps_after\":%" PRIu64 ",\"vmas_created\":%" PRId64
               ",\"vmas_expected\":%" PRIu64 ",\"vmas_ok\":%s,\"map_ns\":%" PRIu64
               ",\"populate_ns\":%" PRIu64,
               maps_before, maps_after, created, o->vmas, ok ? "true" : "false",
               map_ns, populate_ns);
        line_end();
        if (!ok) {
            snprintf(msg, sizeof msg,
                     "expected %" PRIu64 " new VMAs, /proc/self/maps grew by %" PRId64,
                     o->vmas, created);
            error_begin("vma-check-failed", NULL, -1, msg);
            printf(",\"maps_before\":%" PRIu64 ",\"maps_after\":%" PRIu64,
                   maps_before, maps_after);
            line_end();
            return emit_end(EXIT_VMA_CHECK);
        }
    }

    /* ---- batches ---- */
    nb = o->batches;
    for (bi = o->first_batch; bi < nb; bi++) { /* --first-batch: a resumed run's remaining batches */
        uint64_t k = o->forks / nb + (bi < o->forks % nb ? 1 : 0);
        int arms[2], na = 0, j;
        if (o->arm == ARM_BOTH) {
            if ((bi % 2 == 0) != (o->unnamed_first != 0)) { /* ABBA from the first arm */
                arms[0] = 1;
                arms[1] = 0;
            } else {
                arms[0] = 0;
                arms[1] = 1;
            }
            na = 2;
        } else {
            arms[0] = o->arm == ARM_NAMED;
            na = 1;
        }
        for (j = 0; j < na; j++) {
            if (arms[j] && !b.named_supported && !b.placebo_unnamed)
                continue; /* kernel lacks the feature: error already emitted */
            rc = run_arm_batch(&b, bi, arms[j], k);
            if (rc)
                return emit_end(rc);
        }
    }

    free(b.samples);
    return emit_end(b.final_code);
}
