/* The order stream's replies read in C: RESP bytes straight off the socket into the buffers a
 * batch is judged from, and the canonical-form proof of each payload with the columns of the
 * orders it proves (ingest/wire.py, ingest/decode.py; the stub is _resp.pyi).
 *
 * Every function here reads outside bytes: each read is bounded by the buffer's end, every length
 * is checked before it is used, nesting is limited, and anything unexpected is a ValueError (the
 * reader then drops the connection), never a read out of bounds. The heavy loops run without the
 * GIL, on buffers held for the call (a bytearray cannot be resized while it is held).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_LINE (64 * 1024)
#define MAX_BULK ((long long)1 << 40)
#define MAX_COUNT ((long long)1 << 32)

/* The contract's limits (ingest/contract.py); tests/unit/test_decode.py checks both agree. */
#define PAYLOAD_MAX_BYTES 16384
#define TS_MIN_MS 946684800000LL
#define TS_MAX_MS 4102444800000LL
#define MAX_AMOUNT_CENTS 1000000000LL
#define QUANTITY_MAX 10000
#define N_TEXTS 8 /* order_id device category region merchant_id buyer_id item_id payment */
#define PAYMENT 7

/* ---- RESP lines --------------------------------------------------------------------------- */

/* The header line at `pos`: its type byte, and the position after its CRLF. 1: found, 0: not
 * all there yet, -1: not RESP. */
static int line_at(const char *b, Py_ssize_t pos, Py_ssize_t end, Py_ssize_t *line_end,
                   Py_ssize_t *next) {
    if (pos >= end) return 0;
    Py_ssize_t room = end - pos;
    const char *nl = memchr(b + pos, '\n', (size_t)(room < MAX_LINE ? room : MAX_LINE));
    if (nl == NULL) return room < MAX_LINE ? 0 : -1;
    Py_ssize_t at = nl - b;
    if (at < pos + 2 || b[at - 1] != '\r') return -1; /* a type byte, then CRLF at least */
    *line_end = at - 1;
    *next = at + 1;
    return 1;
}

/* A decimal integer (an optional minus, 1-19 digits, within int64) spanning exactly [from, to). */
static int number_in(const char *b, Py_ssize_t from, Py_ssize_t to, long long *out) {
    int negative = 0;
    if (from < to && b[from] == '-') { negative = 1; from++; }
    if (to - from < 1 || to - from > 19) return -1;
    long long value = 0;
    for (Py_ssize_t i = from; i < to; i++) {
        if (b[i] < '0' || b[i] > '9') return -1;
        if (__builtin_mul_overflow(value, 10, &value)
            || __builtin_add_overflow(value, b[i] - '0', &value))
            return -1;
    }
    *out = negative ? -value : value;
    return 0;
}

/* The header at *pos of type `type` (an optional minus, 1-18 digits, CRLF), its number in *n;
 * the position after it. Read straight, byte by byte: the hot path of an XREAD reply. */
static int header(const char *b, Py_ssize_t *pos, Py_ssize_t end, char type, long long *n) {
    Py_ssize_t p = *pos;
    if (p >= end || b[p] != type) return -1;
    p++;
    int negative = p < end && b[p] == '-';
    p += negative;
    Py_ssize_t from = p;
    long long value = 0;
    while (p < end && p - from < 18 && b[p] >= '0' && b[p] <= '9') value = value * 10 + (b[p++] - '0');
    if (p == from || end - p < 2 || b[p] != '\r' || b[p + 1] != '\n') return -1;
    *n = negative ? -value : value;
    *pos = p + 2;
    return 0;
}

/* ---- Scanner: where a reply ends, resumed as more bytes arrive ----------------------------- */

typedef struct {
    PyObject_HEAD
    Py_ssize_t pos;
    int depth;
    long long remaining[MAX_DEPTH + 1];
} Scanner;

static void scanner_restart(Scanner *s, Py_ssize_t start) {
    s->pos = start;
    s->depth = 1;
    s->remaining[0] = 1;
}

static int scanner_init(Scanner *s, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "", kwlist)) return -1;
    scanner_restart(s, 0);
    return 0;
}

/* >= 0: the end of the complete reply; -1: not all there; -2: not RESP. */
static Py_ssize_t scan(Scanner *s, const char *b, Py_ssize_t end) {
    while (s->depth > 0) {
        Py_ssize_t line_end, next = s->pos;
        if (s->pos >= end) return -1;
        char type = b[s->pos];
        long long n = 0;
        if (type == '$' || type == '*' || type == ':') {
            /* Most headers are short and whole: read straight; else the careful way. */
            if (header(b, &next, end, type, &n) < 0) {
                int found = line_at(b, s->pos, end, &line_end, &next);
                if (found <= 0) return found == 0 ? -1 : -2;
                if (number_in(b, s->pos + 1, line_end, &n) < 0) return -2;
            }
        } else if (type == '+' || type == '-') {
            int found = line_at(b, s->pos, end, &line_end, &next);
            if (found <= 0) return found == 0 ? -1 : -2;
        } else {
            return -2;
        }
        if (type == '$' && n >= 0) {
            if (n > MAX_BULK) return -2;
            if (end - next < n + 2) return -1;
            if (b[next + n] != '\r' || b[next + n + 1] != '\n') return -2;
            next += n + 2;
        } else if (type == '$' && n < -1) {
            return -2;
        } else if (type == '*') {
            if (n < -1 || n > MAX_COUNT) return -2;
            if (n > 0) {
                if (s->depth >= MAX_DEPTH) return -2;
                s->remaining[s->depth++] = n;
                s->pos = next;
                continue;
            }
        }
        s->pos = next;
        while (s->depth > 0 && --s->remaining[s->depth - 1] == 0) s->depth--;
    }
    return s->pos;
}

static PyObject *scanner_complete(Scanner *s, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "y*nn", &view, &start, &end)) return NULL;
    if (start < 0 || end < start || end > view.len || s->pos < start || s->pos > end) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "scanner: positions outside the buffer");
        return NULL;
    }
    Py_ssize_t found;
    Py_BEGIN_ALLOW_THREADS
    found = scan(s, (const char *)view.buf, end);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (found == -2) {
        PyErr_SetString(PyExc_ValueError, "not a RESP reply");
        return NULL;
    }
    if (found >= 0) scanner_restart(s, found);
    return PyLong_FromSsize_t(found);
}

static PyObject *scanner_restart_at(Scanner *s, PyObject *arg) {
    Py_ssize_t start = PyLong_AsSsize_t(arg);
    if (start == -1 && PyErr_Occurred()) return NULL;
    if (start < 0) {
        PyErr_SetString(PyExc_ValueError, "scanner: negative position");
        return NULL;
    }
    scanner_restart(s, start);
    Py_RETURN_NONE;
}

static PyMethodDef scanner_methods[] = {
    {"complete", (PyCFunction)scanner_complete, METH_VARARGS,
     "complete(buffer, start, end) -> the end of the reply that starts at `start`, or -1 when "
     "it is not all in buffer[:end] yet (call again with the same start and a later end)."},
    {"restart", (PyCFunction)scanner_restart_at, METH_O,
     "restart(start): forget the reply scanned so far; the next starts at `start`."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ingest._resp.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Where one RESP reply ends, found as its bytes arrive, without rescanning.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)scanner_init,
    .tp_methods = scanner_methods,
};

/* ---- One reply as Python objects (GET, XINFO STREAM, errors) ------------------------------- */

static PyObject *ReplyError;

static PyObject *value_at(const char *b, Py_ssize_t *pos, Py_ssize_t end, int depth) {
    Py_ssize_t line_end, next;
    if (depth > MAX_DEPTH || line_at(b, *pos, end, &line_end, &next) <= 0) goto bad;
    char type = b[*pos];
    Py_ssize_t from = *pos + 1;
    long long n = 0;
    if (type == '+' || type == '-') {
        *pos = next;
        if (type == '+') return PyBytes_FromStringAndSize(b + from, line_end - from);
        PyObject *text = PyUnicode_DecodeUTF8(b + from, line_end - from, "replace");
        if (text == NULL) return NULL;
        PyObject *error = PyObject_CallOneArg(ReplyError, text);
        Py_DECREF(text);
        return error;
    }
    if (number_in(b, from, line_end, &n) < 0) goto bad;
    if (type == ':') {
        *pos = next;
        return PyLong_FromLongLong(n);
    }
    if (type == '$') {
        if (n == -1) { *pos = next; Py_RETURN_NONE; }
        if (n < 0 || n > end - next - 2 || b[next + n] != '\r' || b[next + n + 1] != '\n') goto bad;
        *pos = next + n + 2;
        return PyBytes_FromStringAndSize(b + next, (Py_ssize_t)n);
    }
    if (type == '*') {
        if (n == -1) { *pos = next; Py_RETURN_NONE; }
        /* Each element takes three bytes at least: no list longer than the bytes left. */
        if (n < 0 || n > (end - next) / 3) goto bad;
        PyObject *list = PyList_New((Py_ssize_t)n);
        if (list == NULL) return NULL;
        *pos = next;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = value_at(b, pos, end, depth + 1);
            if (item == NULL) { Py_DECREF(list); return NULL; }
            PyList_SET_ITEM(list, i, item);
        }
        return list;
    }
bad:
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "not a RESP reply");
    return NULL;
}

static PyObject *py_value(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "y*nn", &view, &start, &end)) return NULL;
    PyObject *result = NULL;
    if (start < 0 || end < start || end > view.len) {
        PyErr_SetString(PyExc_ValueError, "positions outside the buffer");
    } else {
        Py_ssize_t pos = start;
        PyObject *value = value_at((const char *)view.buf, &pos, end, 0);
        if (value != NULL) {
            result = Py_BuildValue("(Nn)", value, pos);
        }
    }
    PyBuffer_Release(&view);
    return result;
}

/* ---- An XREAD reply as buffers ------------------------------------------------------------ */

typedef struct {
    Py_ssize_t entries, id_bytes, payload_bytes;
    /* Filled on the second walk (NULL on the first). */
    char *ids;
    int64_t *id_offsets, *arrival_ms, *offsets;
    char *payloads;
    uint8_t *has_data;
} Walk;

/* A bulk string at *pos: its bytes at *at, *length of them (-1: null). */
static int bulk(const char *b, Py_ssize_t *pos, Py_ssize_t end, Py_ssize_t *at,
                Py_ssize_t *length) {
    long long n;
    if (header(b, pos, end, '$', &n) < 0) return -1;
    if (n == -1) { *length = -1; return 0; }
    if (n < 0 || n > end - *pos - 2 || b[*pos + n] != '\r' || b[*pos + n + 1] != '\n') return -1;
    *at = *pos;
    *length = (Py_ssize_t)n;
    *pos += n + 2;
    return 0;
}

/* An entry id "ms-seq": its milliseconds (saturated far beyond any event time). */
static int id_ms(const char *b, Py_ssize_t at, Py_ssize_t length, int64_t *ms) {
    Py_ssize_t i = 0;
    int64_t value = 0;
    while (i < length && b[at + i] >= '0' && b[at + i] <= '9') {
        if (value < ((int64_t)1 << 58)) value = value * 10 + (b[at + i] - '0');
        i++;
    }
    if (i == 0 || i == length || b[at + i] != '-' || i + 1 == length) return -1;
    for (Py_ssize_t j = i + 1; j < length; j++) {
        if (b[at + j] < '0' || b[at + j] > '9') return -1;
    }
    *ms = value;
    return 0;
}

static int walk_entry(const char *b, Py_ssize_t *pos, Py_ssize_t end, Walk *w) {
    long long parts, fields;
    Py_ssize_t at, length;
    if (header(b, pos, end, '*', &parts) < 0 || parts != 2) return -1;
    if (bulk(b, pos, end, &at, &length) < 0 || length < 3) return -1;
    Py_ssize_t k = w->entries;
    if (w->ids != NULL) {
        memcpy(w->ids + w->id_bytes, b + at, (size_t)length);
        w->id_offsets[k + 1] = w->id_offsets[k] + length;
        if (id_ms(b, at, length, &w->arrival_ms[k]) < 0) return -1;
    }
    w->id_bytes += length;
    if (header(b, pos, end, '*', &fields) < 0 || fields < -1) return -1;
    Py_ssize_t data_at = 0, data_length = -1;
    int found = 0;
    for (long long f = 0; f < fields; f += 2) {
        Py_ssize_t name_at, name_length, value_at_, value_length;
        if (bulk(b, pos, end, &name_at, &name_length) < 0) return -1;
        if (f + 1 == fields) break; /* an odd field out: no value, ignored */
        if (bulk(b, pos, end, &value_at_, &value_length) < 0) return -1;
        if (!found && name_length == 4 && memcmp(b + name_at, "data", 4) == 0) {
            found = 1;
            data_at = value_at_;
            data_length = value_length;
        }
    }
    Py_ssize_t taken = data_length > 0 ? data_length : 0;
    if (w->payloads != NULL) {
        memcpy(w->payloads + w->payload_bytes, b + data_at, (size_t)taken);
        w->offsets[k + 1] = w->offsets[k] + taken;
        w->has_data[k] = data_length >= 0;
    }
    w->payload_bytes += taken;
    w->entries++;
    return 0;
}

/* The whole reply: [[stream, [[id, [field, value, ...]], ...]]], or null (nothing came). */
static int walk_reply(const char *b, Py_ssize_t pos, Py_ssize_t end, Walk *w, Py_ssize_t *after) {
    long long streams, pair, entries;
    Py_ssize_t at, length;
    if (header(b, &pos, end, '*', &streams) < 0 || streams < -1 || streams > 1) return -1;
    if (streams == 1) {
        if (header(b, &pos, end, '*', &pair) < 0 || pair != 2) return -1;
        if (bulk(b, &pos, end, &at, &length) < 0 || length < 0) return -1;
        if (header(b, &pos, end, '*', &entries) < 0 || entries < 0) return -1;
        if (entries > (end - pos) / 8) return -1; /* an entry takes more than 8 bytes */
        for (long long i = 0; i < entries; i++) {
            if (walk_entry(b, &pos, end, w) < 0) return -1;
        }
    }
    *after = pos;
    return 0;
}

static PyObject *py_xread(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, end, after = 0;
    if (!PyArg_ParseTuple(args, "y*nn", &view, &start, &end)) return NULL;
    if (start < 0 || end < start || end > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "positions outside the buffer");
        return NULL;
    }
    const char *b = (const char *)view.buf;
    Walk w = {0};
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = walk_reply(b, start, end, &w, &after);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "not an XREAD reply of one stream");
        return NULL;
    }
    Py_ssize_t n = w.entries;
    PyObject *ids = PyBytes_FromStringAndSize(NULL, w.id_bytes);
    PyObject *id_offsets = PyBytes_FromStringAndSize(NULL, (n + 1) * 8);
    PyObject *arrival = PyBytes_FromStringAndSize(NULL, n * 8);
    /* Eight bytes more, zero: the numpy path reads eight bytes at any position. */
    PyObject *payloads = PyBytes_FromStringAndSize(NULL, w.payload_bytes + 8);
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (n + 1) * 8);
    PyObject *has_data = PyBytes_FromStringAndSize(NULL, n);
    PyObject *result = NULL;
    if (ids && id_offsets && arrival && payloads && offsets && has_data) {
        Walk fill = {0};
        fill.ids = PyBytes_AS_STRING(ids);
        fill.id_offsets = (int64_t *)PyBytes_AS_STRING(id_offsets);
        fill.arrival_ms = (int64_t *)PyBytes_AS_STRING(arrival);
        fill.payloads = PyBytes_AS_STRING(payloads);
        fill.offsets = (int64_t *)PyBytes_AS_STRING(offsets);
        fill.has_data = (uint8_t *)PyBytes_AS_STRING(has_data);
        fill.id_offsets[0] = fill.offsets[0] = 0;
        memset(fill.payloads + w.payload_bytes, 0, 8);
        Py_BEGIN_ALLOW_THREADS
        failed = walk_reply(b, start, end, &fill, &after);
        Py_END_ALLOW_THREADS
        if (failed) {
            PyErr_SetString(PyExc_ValueError, "not an XREAD reply of one stream");
        } else {
            result = Py_BuildValue("(nOOOOOOn)", n, ids, id_offsets, arrival, payloads, offsets,
                                   has_data, after);
        }
    }
    PyBuffer_Release(&view);
    Py_XDECREF(ids);
    Py_XDECREF(id_offsets);
    Py_XDECREF(arrival);
    Py_XDECREF(payloads);
    Py_XDECREF(offsets);
    Py_XDECREF(has_data);
    return result;
}

/* ---- The canonical form: proof and columns ------------------------------------------------- */

typedef struct {
    int64_t ts, cents, quantity;
    int64_t start[N_TEXTS];
    int32_t length[N_TEXTS];
} Order;

typedef struct {
    const uint8_t *at, *end;
} Cursor;

static int literal(Cursor *c, const char *text, size_t length) {
    if ((size_t)(c->end - c->at) < length || memcmp(c->at, text, length) != 0) return 0;
    c->at += length;
    return 1;
}
#define LITERAL(c, text) literal((c), (text), sizeof(text) - 1)

/* A string of 1-limit printable ASCII bytes without a backslash (no escapes: its bytes are its
 * characters), then its closing quote. */
static uint8_t plain[256]; /* the bytes a canonical string holds: printable ASCII but " and \ */

static int text(Cursor *c, const uint8_t *base, int limit, int64_t *start, int32_t *length) {
    const uint8_t *from = c->at;
    const uint8_t *stop = c->end - from > limit + 1 ? from + limit + 1 : c->end;
    const uint8_t *p = from;
    while (p < stop && plain[*p]) p++;
    if (p == stop || p == from || *p != '"') return 0;
    *start = from - base;
    *length = (int32_t)(p - from);
    c->at = p + 1;
    return 1;
}

/* A JSON integer of 1-16 digits, no leading zero. */
static int integer(Cursor *c, int64_t *value) {
    const uint8_t *from = c->at;
    int64_t v = 0;
    while (c->at < c->end && *c->at >= '0' && *c->at <= '9' && c->at - from < 17) {
        v = v * 10 + (*c->at - '0');
        c->at++;
    }
    Py_ssize_t digits = c->at - from;
    if (digits < 1 || digits > 16 || (digits > 1 && *from == '0')) return 0;
    *value = v;
    return 1;
}

/* "129.90", "129.9" or "129" (1-8 whole digits), then the closing quote: integer cents. */
static int cents(Cursor *c, int64_t *value) {
    int64_t whole = 0, fraction = 0;
    int digits = 0, decimals = 0;
    while (c->at < c->end && *c->at >= '0' && *c->at <= '9' && digits < 9) {
        whole = whole * 10 + (*c->at++ - '0');
        digits++;
    }
    if (digits < 1 || digits > 8) return 0;
    if (c->at < c->end && *c->at == '.') {
        c->at++;
        while (c->at < c->end && *c->at >= '0' && *c->at <= '9' && decimals < 3) {
            fraction = fraction * 10 + (*c->at++ - '0');
            decimals++;
        }
        if (decimals < 1 || decimals > 2) return 0;
    }
    if (decimals == 1) fraction *= 10;
    *value = whole * 100 + fraction;
    return LITERAL(c, "\"") && *value > 0 && *value <= MAX_AMOUNT_CENTS;
}

static int device(const uint8_t *base, int64_t start, int32_t length) {
    const char *d = (const char *)base + start;
    return (length == 2 && memcmp(d, "pc", 2) == 0) || (length == 6 && memcmp(d, "mobile", 6) == 0)
        || (length == 3 && memcmp(d, "pad", 3) == 0) || (length == 5 && memcmp(d, "other", 5) == 0);
}

/* Whether payload [from, to) of `base` is an order in the canonical compact form
 * (Order.to_payload(): the contract's keys in its order, an optional payment, an optional retry
 * counter), and its fields. */
static int canonical(const uint8_t *base, int64_t from, int64_t to, Order *o) {
    static const char *keys[] = {NULL, ",\"category\":\"", ",\"region\":\"", ",\"merchant_id\":\"",
                                 ",\"buyer_id\":\"", ",\"item_id\":\""};
    Cursor c = {base + from, base + to};
    int64_t retry;
    if (to - from > PAYLOAD_MAX_BYTES) return 0;
    if (!LITERAL(&c, "{\"order_id\":\"") || !text(&c, base, 64, &o->start[0], &o->length[0]))
        return 0;
    if (!LITERAL(&c, ",\"ts\":") || !integer(&c, &o->ts) || o->ts < TS_MIN_MS || o->ts >= TS_MAX_MS)
        return 0;
    if (!LITERAL(&c, ",\"amount\":\"") || !cents(&c, &o->cents)) return 0;
    if (!LITERAL(&c, ",\"device\":\"") || !text(&c, base, 6, &o->start[1], &o->length[1])
        || !device(base, o->start[1], o->length[1]))
        return 0;
    for (int k = 2; k <= 6; k++) {
        if (!literal(&c, keys[k - 1], strlen(keys[k - 1]))
            || !text(&c, base, 64, &o->start[k], &o->length[k]))
            return 0;
    }
    if (!LITERAL(&c, ",\"quantity\":") || !integer(&c, &o->quantity) || o->quantity < 1
        || o->quantity > QUANTITY_MAX)
        return 0;
    o->start[PAYMENT] = 0;
    o->length[PAYMENT] = -1;
    if (LITERAL(&c, ",\"payment\":\"")
        && !text(&c, base, 32, &o->start[PAYMENT], &o->length[PAYMENT]))
        return 0;
    if (LITERAL(&c, ",\"retry\":") && !integer(&c, &retry)) return 0;
    return LITERAL(&c, "}") && c.at == c.end;
}

static PyObject *py_canonical(PyObject *self, PyObject *args) {
    Py_buffer buffer, offsets_view, has_data_view;
    if (!PyArg_ParseTuple(args, "y*y*y*", &buffer, &offsets_view, &has_data_view)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = has_data_view.len;
    Order *orders = NULL;
    int64_t *rows = NULL;
    PyObject *columns[4 + 2 * N_TEXTS + 1] = {NULL};
    const int64_t *offsets = (const int64_t *)offsets_view.buf;
    const uint8_t *has_data = (const uint8_t *)has_data_view.buf, *base = buffer.buf;
    if (offsets_view.len != (n + 1) * 8) {
        PyErr_SetString(PyExc_ValueError, "offsets: one more than entries, int64");
        goto done;
    }
    for (Py_ssize_t i = 0; i <= n; i++) {
        if (offsets[i] < 0 || offsets[i] > buffer.len || (i > 0 && offsets[i] < offsets[i - 1])) {
            PyErr_SetString(PyExc_ValueError, "offsets outside the buffer");
            goto done;
        }
    }
    orders = PyMem_RawMalloc(sizeof(Order) * (n ? n : 1));
    rows = PyMem_RawMalloc(sizeof(int64_t) * (n ? n : 1));
    if (orders == NULL || rows == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t found = 0;
    int64_t text_bytes[N_TEXTS] = {0};
    Py_ssize_t unpaid = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        Order *o = &orders[found];
        if (!has_data[i] || !canonical(base, offsets[i], offsets[i + 1], o)) continue;
        rows[found++] = i;
        for (int k = 0; k < N_TEXTS; k++) text_bytes[k] += o->length[k] > 0 ? o->length[k] : 0;
        unpaid += o->length[PAYMENT] < 0;
    }
    Py_END_ALLOW_THREADS
    /* index, ts_ms, amount_cents, quantity; then each text's offsets and bytes; payment's
     * validity (empty when every order has one). */
    columns[0] = PyBytes_FromStringAndSize((const char *)rows, found * 8);
    for (int k = 1; k < 4; k++) columns[k] = PyBytes_FromStringAndSize(NULL, found * 8);
    for (int k = 0; k < N_TEXTS; k++) {
        columns[4 + 2 * k] = PyBytes_FromStringAndSize(NULL, (found + 1) * 4);
        columns[5 + 2 * k] = PyBytes_FromStringAndSize(NULL, text_bytes[k]);
    }
    columns[4 + 2 * N_TEXTS] = PyBytes_FromStringAndSize(NULL, unpaid ? (found + 7) / 8 : 0);
    for (int k = 0; k < 5 + 2 * N_TEXTS; k++) {
        if (columns[k] == NULL) goto done;
    }
    for (int k = 0; k < N_TEXTS; k++) {
        if (text_bytes[k] > INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "a text column over 2 GiB");
            goto done;
        }
    }
    int64_t *ts = (int64_t *)PyBytes_AS_STRING(columns[1]);
    int64_t *amount = (int64_t *)PyBytes_AS_STRING(columns[2]);
    int64_t *quantity = (int64_t *)PyBytes_AS_STRING(columns[3]);
    uint8_t *paid = unpaid ? (uint8_t *)PyBytes_AS_STRING(columns[4 + 2 * N_TEXTS]) : NULL;
    int32_t *text_offsets[N_TEXTS];
    char *text_data[N_TEXTS];
    for (int k = 0; k < N_TEXTS; k++) {
        text_offsets[k] = (int32_t *)PyBytes_AS_STRING(columns[4 + 2 * k]);
        text_data[k] = PyBytes_AS_STRING(columns[5 + 2 * k]);
        text_offsets[k][0] = 0;
    }
    if (paid) memset(paid, 0, (size_t)(found + 7) / 8);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t j = 0; j < found; j++) {
        const Order *o = &orders[j];
        ts[j] = o->ts;
        amount[j] = o->cents;
        quantity[j] = o->quantity;
        for (int k = 0; k < N_TEXTS; k++) {
            int32_t length = o->length[k] > 0 ? o->length[k] : 0;
            int32_t at = text_offsets[k][j];
            memcpy(text_data[k] + at, base + o->start[k], (size_t)length);
            text_offsets[k][j + 1] = at + length;
        }
        if (paid && o->length[PAYMENT] >= 0) paid[j >> 3] |= (uint8_t)(1u << (j & 7));
    }
    Py_END_ALLOW_THREADS
    result = PyTuple_New(5 + 2 * N_TEXTS);
    if (result != NULL) {
        for (int k = 0; k < 5 + 2 * N_TEXTS; k++) {
            PyTuple_SET_ITEM(result, k, columns[k]);
            columns[k] = NULL;
        }
    }
done:
    for (int k = 0; k < 5 + 2 * N_TEXTS; k++) Py_XDECREF(columns[k]);
    PyMem_RawFree(orders);
    PyMem_RawFree(rows);
    PyBuffer_Release(&buffer);
    PyBuffer_Release(&offsets_view);
    PyBuffer_Release(&has_data_view);
    return result;
}

/* ---- Routing (ingest/partitions.py) --------------------------------------------------------- */

static uint32_t crc_table[256];

static uint32_t crc32_of(const unsigned char *bytes, Py_ssize_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (Py_ssize_t k = 0; k < n; k++) crc = crc_table[(crc ^ bytes[k]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

/* The partition of one payload as partitions.route says it when its id is plain: the name
   `"order_id"` found exactly once (overlapping occurrences counted), then `:"`, then the id up to
   a quote with no backslash before it; crc32 of the id mod `partitions`. Else -1: `route` says. */
static int64_t route_plain(const unsigned char *p, Py_ssize_t n, int64_t partitions) {
    static const char name[] = "\"order_id\"";
    const Py_ssize_t width = 10;
    Py_ssize_t found = -1;
    for (Py_ssize_t at = 0; at + width <= n; at++) {
        const unsigned char *hit = memchr(p + at, '"', (size_t)(n - width - at + 1));
        if (hit == NULL) break;
        at = hit - p;
        if (memcmp(hit, name, (size_t)width) == 0) {
            if (found >= 0) return -1;
            found = at;
        }
    }
    if (found < 0 || found + width + 2 > n || p[found + width] != ':' || p[found + width + 1] != '"')
        return -1;
    Py_ssize_t start = found + width + 2, end = start;
    while (end < n && p[end] != '"' && p[end] != '\\') end++;
    if (end >= n || p[end] != '"') return -1;
    return (int64_t)(crc32_of(p + start, end - start) % (uint64_t)partitions);
}

static PyObject *py_routes(PyObject *self, PyObject *args) {
    PyObject *payloads;
    long long partitions;
    if (!PyArg_ParseTuple(args, "OL", &payloads, &partitions)) return NULL;
    if (partitions < 1) {
        PyErr_SetString(PyExc_ValueError, "partitions must be at least 1");
        return NULL;
    }
    PyObject *items = PySequence_Fast(payloads, "payloads must be a sequence");
    if (items == NULL) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
    PyObject *result = PyBytes_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(int64_t));
    if (result != NULL) {
        int64_t *where = (int64_t *)PyBytes_AS_STRING(result);
        PyObject **each = PySequence_Fast_ITEMS(items);
        for (Py_ssize_t j = 0; j < count; j++) {
            PyObject *payload = each[j];
            where[j] = PyBytes_Check(payload)
                ? route_plain((const unsigned char *)PyBytes_AS_STRING(payload),
                              PyBytes_GET_SIZE(payload), partitions)
                : -1;
        }
    }
    Py_DECREF(items);
    return result;
}

/* ---- The module ------------------------------------------------------------------------------ */

static PyMethodDef module_methods[] = {
    {"value", py_value, METH_VARARGS,
     "value(buffer, start, end) -> (the reply at `start` as Python objects, where it ends): "
     "bulk and simple strings as bytes, errors as ReplyError instances, nulls as None."},
    {"xread", py_xread, METH_VARARGS,
     "xread(buffer, start, end) -> (entries, ids, id_offsets, arrival_ms, payloads, offsets, "
     "has_data, after): one stream's XREAD reply as buffers (int64 arrays as bytes)."},
    {"canonical", py_canonical, METH_VARARGS,
     "canonical(payloads, offsets, has_data) -> the rows in the canonical form and their columns: "
     "(index, ts_ms, amount_cents, quantity, each text's int32 offsets and bytes, payment's "
     "validity bitmap, empty when every order has one)."},
    {"routes", py_routes, METH_VARARGS,
     "routes(payloads, partitions) -> each payload's partition as int64s (bytes): crc32 of its "
     "plain order_id mod partitions, or -1 where partitions.route must say."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_resp",
                                    "RESP replies and canonical payloads, read in C.", -1,
                                    module_methods};

PyMODINIT_FUNC PyInit__resp(void) {
    for (int byte = 0x20; byte <= 0x7e; byte++) plain[byte] = byte != '"' && byte != '\\';
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        crc_table[byte] = crc;  /* zlib's reflected polynomial */
    }
    if (PyType_Ready(&ScannerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    ReplyError = PyErr_NewException("ingest._resp.ReplyError", PyExc_Exception, NULL);
    if (ReplyError == NULL || PyModule_AddObjectRef(m, "ReplyError", ReplyError) < 0
        || PyModule_AddObjectRef(m, "Scanner", (PyObject *)&ScannerType) < 0
        || PyModule_AddIntConstant(m, "PAYLOAD_MAX_BYTES", PAYLOAD_MAX_BYTES) < 0
        || PyModule_AddIntConstant(m, "QUANTITY_MAX", QUANTITY_MAX) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    const char *names[] = {"TS_MIN_MS", "TS_MAX_MS", "MAX_AMOUNT_CENTS"};
    long long values[] = {TS_MIN_MS, TS_MAX_MS, MAX_AMOUNT_CENTS};
    for (int k = 0; k < 3; k++) {
        PyObject *v = PyLong_FromLongLong(values[k]);
        int failed = v == NULL || PyModule_AddObjectRef(m, names[k], v) < 0;
        Py_XDECREF(v);
        if (failed) {
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
