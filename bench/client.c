/*
 * healthgate bench load client: a minimal WebSocket client in C, so that the load generator is
 * never the bottleneck. Built at bench time with `cc -O2 -o client client.c`.
 *
 *   client bulk    HOST PORT PATH CONNS MSG_BYTES SECONDS WINDOW
 *       CONNS connections, each keeping WINDOW binary messages of MSG_BYTES in flight, echoed
 *       back, for SECONDS: prints the echoed payload bytes and MB/s.
 *   client latency HOST PORT PATH MSG_BYTES COUNT WARMUP
 *       one connection, one message in flight: WARMUP round trips unrecorded, then COUNT timed.
 *   client rate    HOST PORT PATH CONCURRENCY SECONDS
 *       CONCURRENCY slots, each looping: connect, handshake (101), close frame, wait for the
 *       server's close and EOF, close. Prints completed connections per second.
 *   client idle    HOST PORT PATH COUNT CONCURRENCY
 *       opens COUNT WebSocket connections (CONCURRENCY handshakes at a time), prints
 *       "ready COUNT START_MS END_MS" (CLOCK_MONOTONIC milliseconds of the first connect and
 *       the last 101, comparable with the probe's), waits for a line (or EOF) on stdin, then
 *       resets them all. The storm measurement is this mode with 1,000 handshakes in flight.
 *   client probe   HOST PORT PATH INTERVAL_MS
 *       every INTERVAL_MS, on a fresh connection: GET PATH with `Connection: close`, timed from
 *       connect() to the end of the answer's head; one line per probe, "p START_MS US STATUS"
 *       (status 0: no answer within 5 s), until a line (or EOF) arrives on stdin.
 *   client exec    CMD [ARGS...]
 *       runs CMD (its stdout and stderr pass through), then prints its CPU time.
 *
 * Every mode ends with one JSON line on stdout that includes the client's own CPU seconds
 * (cpu_s) and wall seconds (wall_s), so the runner can warn when the client saturates a core.
 * Client frames are masked (RFC 6455) with a fixed key; payloads are masked once, up front.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;
static char request[1024];
static size_t request_len;
static double started_s;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "client: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

static void print_footer(void) {
  printf("\"cpu_s\":%.4f,\"wall_s\":%.4f}\n", self_cpu_s(), now_s() - started_s);
  fflush(stdout);
}

static void setup_target(const char *host, const char *port, const char *path) {
  memset(&target, 0, sizeof target);
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)atoi(port));
  if (inet_pton(AF_INET, host, &target.sin_addr) != 1) die("bad IPv4 address %s", host);
  int n = snprintf(request, sizeof request,
                   "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, host, port);
  if (n <= 0 || (size_t)n >= sizeof request) die("path too long");
  request_len = (size_t)n;
}

static int new_socket(int nonblocking) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) die("socket: %s", strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void reset_close(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

static void write_all(int fd, const uint8_t *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("write: %s", strerror(errno));
    }
    buf += n;
    len -= (size_t)n;
  }
}

/* True when buf holds a complete response head that is a 101. */
static int head_done(const char *buf, size_t len) { return memmem(buf, len, "\r\n\r\n", 4) != NULL; }
static int head_ok(const char *buf, size_t len) { return len >= 12 && memcmp(buf, "HTTP/1.1 101", 12) == 0; }

/* Blocking connect + handshake; the socket stays blocking. */
static int open_ws_blocking(void) {
  int fd = new_socket(0);
  if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0) die("connect: %s", strerror(errno));
  write_all(fd, (const uint8_t *)request, request_len);
  char buf[4096];
  size_t len = 0;
  while (!head_done(buf, len)) {
    if (len == sizeof buf) die("handshake answer too long");
    ssize_t n = read(fd, buf + len, sizeof buf - len);
    if (n <= 0) die("handshake: connection closed (%s)", n < 0 ? strerror(errno) : "EOF");
    len += (size_t)n;
  }
  if (!head_ok(buf, len)) die("handshake refused: %.40s", buf);
  /* The server sends nothing after its 101 until we do: no bytes to carry over. */
  return fd;
}

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* One masked client frame (FIN set) of `opcode` around `payload`; returns its length. */
static size_t build_frame(uint8_t *out, uint8_t opcode, const uint8_t *payload, size_t len) {
  size_t h = 0;
  out[h++] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    out[h++] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    out[h++] = 0x80 | 126;
    out[h++] = (uint8_t)(len >> 8);
    out[h++] = (uint8_t)len;
  } else {
    out[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--) out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  memcpy(out + h, MASK, 4);
  h += 4;
  for (size_t i = 0; i < len; i++) out[h + i] = payload[i] ^ MASK[i & 3];
  return h + len;
}

static uint8_t *make_message_frame(size_t payload_len, size_t *frame_len) {
  uint8_t *payload = malloc(payload_len ? payload_len : 1);
  uint8_t *frame = malloc(payload_len + 14);
  if (!payload || !frame) die("out of memory");
  for (size_t i = 0; i < payload_len; i++) payload[i] = (uint8_t)(i * 31 + 7);
  *frame_len = build_frame(frame, 0x2, payload, payload_len);
  free(payload);
  return frame;
}

/* Streaming parser of server frames (unmasked); counts whole frames and payload bytes. */
struct parser {
  uint8_t head[14];
  size_t head_len;
  uint64_t remaining;
  int in_payload;
  uint8_t opcode;
};

/* Feeds n bytes; returns the number of data frames completed; sets *closed on a close frame. */
static int parse(struct parser *p, const uint8_t *buf, size_t n, uint64_t *payload_bytes, int *closed) {
  int frames = 0;
  size_t i = 0;
  while (i < n) {
    if (!p->in_payload) {
      p->head[p->head_len++] = buf[i++];
      if (p->head_len < 2) continue;
      uint8_t len7 = p->head[1] & 0x7f;
      if (p->head[1] & 0x80) die("server frame is masked");
      size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
      if (p->head_len < need) continue;
      uint64_t len = len7;
      if (len7 == 126) len = ((uint64_t)p->head[2] << 8) | p->head[3];
      if (len7 == 127) {
        len = 0;
        for (int k = 2; k < 10; k++) len = (len << 8) | p->head[k];
      }
      p->opcode = p->head[0] & 0x0f;
      p->head_len = 0;
      p->remaining = len;
      p->in_payload = 1;
    } else {
      size_t take = n - i < p->remaining ? n - i : (size_t)p->remaining;
      i += take;
      p->remaining -= take;
      if (payload_bytes && p->opcode != 0x8) *payload_bytes += take;
    }
    if (p->in_payload && p->remaining == 0) {
      p->in_payload = 0;
      if (p->opcode == 0x8) {
        if (closed) *closed = 1;
      } else if (p->opcode == 0x1 || p->opcode == 0x2 || p->opcode == 0x0) {
        frames++;
      }
    }
  }
  return frames;
}

/* ---- bulk ---------------------------------------------------------------------------------- */

struct bulk_conn {
  int fd;
  struct parser parser;
  uint64_t to_send; /* whole frames still to send */
  size_t send_off;  /* bytes of the current frame already sent */
  int want_out;
};

static int mode_bulk(int argc, char **argv) {
  if (argc != 9) die("usage: client bulk HOST PORT PATH CONNS MSG_BYTES SECONDS WINDOW");
  setup_target(argv[2], argv[3], argv[4]);
  int conns = atoi(argv[5]);
  size_t msg = (size_t)atol(argv[6]);
  double seconds = atof(argv[7]);
  int window = atoi(argv[8]);
  size_t frame_len;
  uint8_t *frame = make_message_frame(msg, &frame_len);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct bulk_conn *cs = calloc((size_t)conns, sizeof *cs);
  for (int i = 0; i < conns; i++) {
    cs[i].fd = open_ws_blocking();
    set_nonblocking(cs[i].fd);
    cs[i].to_send = (uint64_t)window;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  size_t rbuf_len = 256 * 1024;
  uint8_t *rbuf = malloc(rbuf_len);
  uint64_t payload = 0, messages = 0;
  double t0 = now_s(), end = t0 + seconds;
  int sending = 1;
#define TRY_SEND(c)                                                                          \
  do {                                                                                       \
    while (sending && (c)->to_send > 0) {                                                    \
      ssize_t w = write((c)->fd, frame + (c)->send_off, frame_len - (c)->send_off);          \
      if (w < 0) {                                                                           \
        if (errno == EAGAIN) break;                                                          \
        die("write: %s", strerror(errno));                                                   \
      }                                                                                      \
      (c)->send_off += (size_t)w;                                                            \
      if ((c)->send_off == frame_len) {                                                      \
        (c)->send_off = 0;                                                                   \
        (c)->to_send--;                                                                      \
      }                                                                                      \
    }                                                                                        \
    int want = sending && (c)->to_send > 0;                                                  \
    if (want != (c)->want_out) {                                                             \
      struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = (c)}; \
      epoll_ctl(ep, EPOLL_CTL_MOD, (c)->fd, &ev);                                            \
      (c)->want_out = want;                                                                  \
    }                                                                                        \
  } while (0)
  for (int i = 0; i < conns; i++) TRY_SEND(&cs[i]);
  struct epoll_event evs[64];
  double now = t0;
  while (now < end) {
    int n = epoll_wait(ep, evs, 64, 50);
    if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
    for (int k = 0; k < n; k++) {
      struct bulk_conn *c = evs[k].data.ptr;
      if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = read(c->fd, rbuf, rbuf_len);
        if (r == 0) die("bulk: server closed a connection");
        if (r < 0 && errno != EAGAIN) die("bulk: read: %s", strerror(errno));
        if (r > 0) {
          int closed = 0;
          int done = parse(&c->parser, rbuf, (size_t)r, &payload, &closed);
          if (closed) die("bulk: server sent a close frame");
          messages += (uint64_t)done;
          c->to_send += (uint64_t)done;
        }
      }
      TRY_SEND(c);
    }
    now = now_s();
  }
  double elapsed = now - t0;
  for (int i = 0; i < conns; i++) reset_close(cs[i].fd);
  printf("{\"mode\":\"bulk\",\"payload_bytes\":%llu,\"messages\":%llu,\"seconds\":%.4f,\"mb_per_s\":%.2f,",
         (unsigned long long)payload, (unsigned long long)messages, elapsed, (double)payload / elapsed / 1e6);
  print_footer();
  return 0;
}

/* ---- latency ------------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int mode_latency(int argc, char **argv) {
  if (argc != 8) die("usage: client latency HOST PORT PATH MSG_BYTES COUNT WARMUP");
  setup_target(argv[2], argv[3], argv[4]);
  size_t msg = (size_t)atol(argv[5]);
  long count = atol(argv[6]), warmup = atol(argv[7]);
  size_t frame_len;
  uint8_t *frame = make_message_frame(msg, &frame_len);
  uint64_t *samples = malloc(sizeof(uint64_t) * (size_t)(count > 0 ? count : 1));
  int fd = open_ws_blocking();
  uint8_t rbuf[65536];
  struct parser p = {0};
  for (long i = 0; i < warmup + count; i++) {
    uint64_t t = now_ns();
    write_all(fd, frame, frame_len);
    int done = 0;
    while (!done) {
      ssize_t r = read(fd, rbuf, sizeof rbuf);
      if (r <= 0) die("latency: read: %s", r < 0 ? strerror(errno) : "EOF");
      int closed = 0;
      done = parse(&p, rbuf, (size_t)r, NULL, &closed);
      if (closed) die("latency: server sent a close frame");
    }
    if (i >= warmup) samples[i - warmup] = now_ns() - t;
  }
  reset_close(fd);
  qsort(samples, (size_t)count, sizeof *samples, cmp_u64);
  double sum = 0;
  for (long i = 0; i < count; i++) sum += (double)samples[i];
#define PCT(q) ((double)samples[(size_t)((double)(count - 1) * (q))] / 1000.0)
  printf("{\"mode\":\"latency\",\"count\":%ld,\"mean_us\":%.2f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,"
         "\"p999_us\":%.2f,\"max_us\":%.2f,",
         count, sum / (double)count / 1000.0, PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999), PCT(1.0));
  print_footer();
  return 0;
}

/* ---- rate and idle: non-blocking handshakes ------------------------------------------------ */

enum slot_state { S_FREE, S_CONNECTING, S_HEAD, S_CLOSING, S_OPEN };

struct slot {
  int fd;
  enum slot_state state;
  char head[1024];
  size_t head_len;
};

static uint8_t close_frame[16];
static size_t close_frame_len;

static void slot_start(int ep, struct slot *s) {
  s->fd = new_socket(1);
  s->head_len = 0;
  int r = connect(s->fd, (struct sockaddr *)&target, sizeof target);
  if (r < 0 && errno != EINPROGRESS) die("connect: %s", strerror(errno));
  s->state = S_CONNECTING;
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
  epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

/* Advances a slot on an event. Returns 1 when the handshake just completed (state S_OPEN or,
 * in rate mode, S_CLOSING), 2 when a closing connection reached EOF, -1 on failure. */
static int slot_step(int ep, struct slot *s, int close_after_handshake) {
  if (s->state == S_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return -1;
    if (write(s->fd, request, request_len) != (ssize_t)request_len) return -1;
    s->state = S_HEAD;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
    return 0;
  }
  if (s->state == S_HEAD) {
    ssize_t r = read(s->fd, s->head + s->head_len, sizeof s->head - s->head_len);
    if (r < 0 && errno == EAGAIN) return 0;
    if (r <= 0) return -1;
    s->head_len += (size_t)r;
    if (!head_done(s->head, s->head_len)) return s->head_len == sizeof s->head ? -1 : 0;
    if (!head_ok(s->head, s->head_len)) return -1;
    if (!close_after_handshake) {
      s->state = S_OPEN;
      return 1;
    }
    if (write(s->fd, close_frame, close_frame_len) != (ssize_t)close_frame_len) return -1;
    s->state = S_CLOSING;
    return 1;
  }
  if (s->state == S_CLOSING) {
    char buf[512];
    for (;;) {
      ssize_t r = read(s->fd, buf, sizeof buf);
      if (r > 0) continue;
      if (r < 0 && errno == EAGAIN) return 0;
      if (r < 0) return -1;
      return 2; /* EOF after the server's close frame */
    }
  }
  if (s->state == S_OPEN) {
    char buf[512];
    ssize_t r = read(s->fd, buf, sizeof buf);
    if (r < 0 && errno == EAGAIN) return 0;
    return -1; /* an idle connection must stay silent and open */
  }
  return 0;
}

static int mode_rate(int argc, char **argv) {
  if (argc != 7) die("usage: client rate HOST PORT PATH CONCURRENCY SECONDS");
  setup_target(argv[2], argv[3], argv[4]);
  int conc = atoi(argv[5]);
  double seconds = atof(argv[6]);
  const uint8_t code[2] = {0x03, 0xe8}; /* 1000, normal closure */
  close_frame_len = build_frame(close_frame, 0x8, code, 2);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct slot *slots = calloc((size_t)conc, sizeof *slots);
  double t0 = now_s(), end = t0 + seconds, now = t0;
  uint64_t done = 0, failed = 0, handshakes = 0;
  for (int i = 0; i < conc; i++) slot_start(ep, &slots[i]);
  int active = conc;
  struct epoll_event evs[64];
  while (active > 0) {
    int n = epoll_wait(ep, evs, 64, 100);
    if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
    now = now_s();
    for (int k = 0; k < n; k++) {
      struct slot *s = evs[k].data.ptr;
      int r = slot_step(ep, s, 1);
      if (r == 1) handshakes++;
      if (r == 0 || r == 1) continue;
      if (r == 2) done++;
      else failed++;
      if (r < 0) reset_close(s->fd);
      else close(s->fd);
      if (now < end) {
        slot_start(ep, s);
      } else {
        s->state = S_FREE;
        active--;
      }
    }
    if (now > end + 5) die("rate: connections still open 5 s after the end");
  }
  double elapsed = now - t0;
  printf("{\"mode\":\"rate\",\"connections\":%llu,\"failed\":%llu,\"handshakes\":%llu,\"seconds\":%.4f,"
         "\"per_s\":%.1f,",
         (unsigned long long)done, (unsigned long long)failed, (unsigned long long)handshakes, elapsed,
         (double)done / elapsed);
  print_footer();
  return 0;
}

static int mode_idle(int argc, char **argv) {
  if (argc != 7) die("usage: client idle HOST PORT PATH COUNT CONCURRENCY");
  setup_target(argv[2], argv[3], argv[4]);
  int count = atoi(argv[5]), conc = atoi(argv[6]);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct slot *slots = calloc((size_t)count, sizeof *slots);
  int started = 0, open = 0, pending = 0;
  double t0 = now_s();
  while (open < count) {
    while (pending < conc && started < count) {
      slot_start(ep, &slots[started++]);
      pending++;
    }
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, 1000);
    if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
    for (int k = 0; k < n; k++) {
      struct slot *s = evs[k].data.ptr;
      int r = slot_step(ep, s, 0);
      if (r < 0) die("idle: connection %ld failed after %d open (%s)", (long)(s - slots), open, strerror(errno));
      if (r == 1) {
        open++;
        pending--;
        /* Stop watching: the connection stays open and silent until we reset it. */
        epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
      }
    }
    if (now_s() - t0 > 60) die("idle: only %d of %d connections open after 60 s", open, count);
  }
  double t1 = now_s();
  double open_s = t1 - t0;
  printf("ready %d %.3f %.3f\n", open, t0 * 1000.0, t1 * 1000.0);
  fflush(stdout);
  char line[64];
  ssize_t ignored = read(0, line, sizeof line);
  (void)ignored;
  /* Still open? A proxy that dropped idle connections would make the figure meaningless. */
  int lost = 0;
  for (int i = 0; i < count; i++) {
    char b;
    ssize_t r = recv(slots[i].fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
    if (r == 0 || (r < 0 && errno != EAGAIN)) lost++;
  }
  for (int i = 0; i < count; i++) reset_close(slots[i].fd);
  printf("{\"mode\":\"idle\",\"connections\":%d,\"lost\":%d,\"open_seconds\":%.4f,", open, lost, open_s);
  print_footer();
  return 0;
}

/* ---- probe: a health GET on a fresh connection every INTERVAL_MS ----------------------------- */

/* Waits until fd is ready for `events` or the deadline passes; 1 when ready. */
static int wait_fd(int fd, short events, double deadline) {
  for (;;) {
    double left = deadline - now_s();
    if (left <= 0) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, (int)(left * 1000) + 1);
    if (n > 0) return 1;
    if (n < 0 && errno != EINTR) return 0;
  }
}

/* One probe: returns the HTTP status (0 on failure or timeout). */
static int probe_once(const char *req, size_t req_len) {
  double deadline = now_s() + 5.0;
  int fd = new_socket(1);
  int status = 0;
  int r = connect(fd, (struct sockaddr *)&target, sizeof target);
  if (r < 0 && errno != EINPROGRESS) goto out;
  if (!wait_fd(fd, POLLOUT, deadline)) goto out;
  int err = 0;
  socklen_t elen = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0 || write(fd, req, req_len) != (ssize_t)req_len) goto out;
  char buf[2048];
  size_t len = 0;
  while (!head_done(buf, len) && len < sizeof buf) {
    if (!wait_fd(fd, POLLIN, deadline)) goto out;
    ssize_t n = read(fd, buf + len, sizeof buf - len);
    if (n < 0 && errno == EAGAIN) continue;
    if (n <= 0) goto out;
    len += (size_t)n;
  }
  if (head_done(buf, len) && len >= 12 && memcmp(buf, "HTTP/1.", 7) == 0) status = atoi(buf + 9);
out:
  reset_close(fd);
  return status;
}

static int mode_probe(int argc, char **argv) {
  if (argc != 6) die("usage: client probe HOST PORT PATH INTERVAL_MS");
  setup_target(argv[2], argv[3], argv[4]);
  double interval = atof(argv[5]) / 1000.0;
  char req[512];
  int req_len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n", argv[4], argv[2], argv[3]);
  if (req_len <= 0 || (size_t)req_len >= sizeof req) die("path too long");
  long probes = 0, failed = 0;
  double next = now_s();
  for (;;) {
    /* Sleep until the next tick, or stop at a line (or EOF) on stdin. */
    struct pollfd in = {.fd = 0, .events = POLLIN};
    double left = next - now_s();
    int n = poll(&in, 1, left > 0 ? (int)(left * 1000) : 0);
    if (n > 0) break;
    if (left > 0 && now_s() < next) continue;
    double t = now_s();
    int status = probe_once(req, (size_t)req_len);
    double us = (now_s() - t) * 1e6;
    printf("p %.3f %.0f %d\n", t * 1000.0, us, status);
    fflush(stdout);
    probes++;
    if (status != 200) failed++;
    /* A slow probe delays the next, as a platform's prober that waits for its answer does. */
    next += interval;
    if (next < now_s()) next = now_s();
  }
  printf("{\"mode\":\"probe\",\"probes\":%ld,\"failed\":%ld,", probes, failed);
  print_footer();
  return 0;
}

/* ---- exec: CPU of another load generator (wrk) --------------------------------------------- */

static int mode_exec(int argc, char **argv) {
  if (argc < 3) die("usage: client exec CMD [ARGS...]");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    fprintf(stderr, "client: exec %s: %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) die("wait4: %s", strerror(errno));
  printf("{\"mode\":\"exec\",\"status\":%d,\"child_cpu_s\":%.4f,", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
         tv_s(ru.ru_utime) + tv_s(ru.ru_stime));
  print_footer();
  return 0;
}

int main(int argc, char **argv) {
  started_s = now_s();
  if (argc < 2) die("usage: client bulk|latency|rate|idle|probe|exec ...");
  signal(SIGPIPE, SIG_IGN);
  if (strcmp(argv[1], "bulk") == 0) return mode_bulk(argc, argv);
  if (strcmp(argv[1], "latency") == 0) return mode_latency(argc, argv);
  if (strcmp(argv[1], "rate") == 0) return mode_rate(argc, argv);
  if (strcmp(argv[1], "idle") == 0) return mode_idle(argc, argv);
  if (strcmp(argv[1], "exec") == 0) return mode_exec(argc, argv);
  if (strcmp(argv[1], "probe") == 0) return mode_probe(argc, argv);
  die("unknown mode %s", argv[1]);
  return 2;
}
