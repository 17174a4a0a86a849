/* Native tokenizer for clean flow-log text: split on runs of spaces/tabs, check every value
 * against its field, and fill Arrow-layout buffers in one pass.
 *
 * All or nothing: on anything unusual (a blank line, a non-ASCII byte, a wrong field count, a
 * value that does not fit its field) it returns None and the caller falls back to the exact
 * per-line parser, which reports line numbers and reasons. The checks are the parser's checks:
 * digits and ranges for numbers, value sets for enumerations, prefixes for IDs, the dotted-quad
 * grammar for IPv4. IPv6 shapes are only flagged here and verified by the caller.
 *
 * tokenize(data: bytes, specs: tuple[, max_line: int]) -> (rows, columns) | None
 *   None also for a line longer than max_line bytes (not counting its line end), a line that
 *   starts with '#', and data of 2 GiB or more (string offsets are int32).
 *   spec per column: (kind, a, b) with kind one of
 *     'x' ignored, 's' any string, 'i' integer (a=min or None, b=max or None),
 *     'a' address, 'e' enumeration (a=tuple of bytes), 'p' prefix (a=bytes), 'c' account id
 *   column result: None for 'x'; for 'i' (values: bytes of int64, validity: bytes | None,
 *     nulls); for strings (offsets: bytes of int32, data: bytes, validity: bytes | None, nulls,
 *     saw_ipv6: bool)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char kind;
    int has_min, has_max;
    long long minv, maxv;
    const char *prefix;
    Py_ssize_t prefix_len;
    Py_ssize_t n_enum;
    const char **enum_vals;
    Py_ssize_t *enum_lens;
    /* outputs */
    int64_t *ints;
    int32_t *offsets;
    char *data;
    Py_ssize_t data_len;
    uint8_t *validity;
    Py_ssize_t nulls;
    int saw_ipv6;
} Col;

static int is_ipv4(const char *s, Py_ssize_t n) {
    int groups = 0;
    Py_ssize_t i = 0;
    while (groups < 4) {
        Py_ssize_t start = i;
        int v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
            v = v * 10 + (s[i] - '0');
            i++;
        }
        Py_ssize_t len = i - start;
        if (len == 0 || (len > 1 && s[start] == '0') || v > 255) return 0;
        groups++;
        if (groups < 4) {
            if (i >= n || s[i] != '.') return 0;
            i++;
        }
    }
    return i == n;
}

static int looks_ipv6(const char *s, Py_ssize_t n) {
    int colon = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ':') colon = 1;
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.'))
            return 0;
    }
    return colon;
}

static void set_valid(Col *c, Py_ssize_t row) { c->validity[row >> 3] |= (uint8_t)(1u << (row & 7)); }

/* Store one token in column c at row; 0 when the value does not fit the field. */
static int put(Col *c, Py_ssize_t row, const char *t, Py_ssize_t n) {
    if (c->kind == 'x') return 1;
    int null = (n == 1 && t[0] == '-');
    if (c->kind == 'i') {
        if (null) {
            c->ints[row] = 0;
            c->nulls++;
            return 1;
        }
        if (n > 18) return 0;
        long long v = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (t[i] < '0' || t[i] > '9') return 0;
            v = v * 10 + (t[i] - '0');
        }
        if ((c->has_min && v < c->minv) || (c->has_max && v > c->maxv)) return 0;
        c->ints[row] = (int64_t)v;
        set_valid(c, row);
        return 1;
    }
    if (null) {
        c->offsets[row + 1] = (int32_t)c->data_len;
        c->nulls++;
        return 1;
    }
    switch (c->kind) {
    case 'a':
        if (!is_ipv4(t, n)) {
            if (!looks_ipv6(t, n)) return 0;
            c->saw_ipv6 = 1;
        }
        break;
    case 'e': {
        int ok = 0;
        for (Py_ssize_t k = 0; k < c->n_enum && !ok; k++)
            ok = (c->enum_lens[k] == n && memcmp(c->enum_vals[k], t, (size_t)n) == 0);
        if (!ok) return 0;
        break;
    }
    case 'p':
        if (n < c->prefix_len || memcmp(t, c->prefix, (size_t)c->prefix_len) != 0) return 0;
        break;
    case 'c':
        if (!(n == 7 && memcmp(t, "unknown", 7) == 0)) {
            for (Py_ssize_t i = 0; i < n; i++)
                if (t[i] < '0' || t[i] > '9') return 0;
        }
        break;
    default:
        break;
    }
    memcpy(c->data + c->data_len, t, (size_t)n);
    c->data_len += n;
    c->offsets[row + 1] = (int32_t)c->data_len;
    set_valid(c, row);
    return 1;
}

static void free_cols(Col *cols, Py_ssize_t k) {
    if (!cols) return;
    for (Py_ssize_t j = 0; j < k; j++) {
        free(cols[j].ints);
        free(cols[j].offsets);
        free(cols[j].data);
        free(cols[j].validity);
        free(cols[j].enum_vals);
        free(cols[j].enum_lens);
    }
    free(cols);
}

static PyObject *tokenize(PyObject *self, PyObject *args) {
    Py_buffer buf;
    PyObject *specs;
    Py_ssize_t max_line = PY_SSIZE_T_MAX;
    if (!PyArg_ParseTuple(args, "y*O!|n", &buf, &PyTuple_Type, &specs, &max_line)) return NULL;
    const char *data = (const char *)buf.buf;
    Py_ssize_t len = buf.len;
    if (len >= INT32_MAX) { /* int32 string offsets could not address it */
        PyBuffer_Release(&buf);
        Py_RETURN_NONE;
    }
    Py_ssize_t k = PyTuple_GET_SIZE(specs);
    PyObject *result = NULL;
    Col *cols = calloc((size_t)k, sizeof(Col));
    if (!cols) {
        PyBuffer_Release(&buf);
        return PyErr_NoMemory();
    }
    /* Upper bound on rows: lines. */
    Py_ssize_t max_rows = 1;
    for (const char *p = data; (p = memchr(p, '\n', (size_t)(data + len - p))) != NULL; p++) max_rows++;

    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *spec = PyTuple_GET_ITEM(specs, j);
        const char *kind;
        PyObject *a, *b;
        if (!PyArg_ParseTuple(spec, "sOO", &kind, &a, &b)) goto fail;
        Col *c = &cols[j];
        c->kind = kind[0];
        if (c->kind == 'x') continue;
        c->validity = calloc((size_t)(max_rows / 8 + 1), 1);
        if (!c->validity) goto nomem;
        if (c->kind == 'i') {
            if (a != Py_None) { c->has_min = 1; c->minv = PyLong_AsLongLong(a); }
            if (b != Py_None) { c->has_max = 1; c->maxv = PyLong_AsLongLong(b); }
            if (PyErr_Occurred()) goto fail;
            c->ints = malloc((size_t)max_rows * sizeof(int64_t));
            if (!c->ints) goto nomem;
            continue;
        }
        c->offsets = malloc((size_t)(max_rows + 1) * sizeof(int32_t));
        c->data = malloc((size_t)len + 1);
        if (!c->offsets || !c->data) goto nomem;
        c->offsets[0] = 0;
        if (c->kind == 'p') {
            if (!PyBytes_Check(a)) goto badspec;
            c->prefix = PyBytes_AS_STRING(a);
            c->prefix_len = PyBytes_GET_SIZE(a);
        } else if (c->kind == 'e') {
            if (!PyTuple_Check(a)) goto badspec;
            c->n_enum = PyTuple_GET_SIZE(a);
            c->enum_vals = malloc((size_t)(c->n_enum + 1) * sizeof(char *));
            c->enum_lens = malloc((size_t)(c->n_enum + 1) * sizeof(Py_ssize_t));
            if (!c->enum_vals || !c->enum_lens) goto nomem;
            for (Py_ssize_t e = 0; e < c->n_enum; e++) {
                PyObject *v = PyTuple_GET_ITEM(a, e);
                if (!PyBytes_Check(v)) goto badspec;
                c->enum_vals[e] = PyBytes_AS_STRING(v);
                c->enum_lens[e] = PyBytes_GET_SIZE(v);
            }
        }
    }

    Py_ssize_t rows = 0;
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    const char *p = data, *end = data + len;
    while (p < end && ok) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le > p && le[-1] == '\r') le--;
        if (le - p > max_line) { ok = 0; break; }  /* too long: the exact parser reports it */
        const char *q = p;
        Py_ssize_t col = 0;
        while (q < le && (*q == ' ' || *q == '\t')) q++;
        if (q == le || *q == '#') { ok = 0; break; }  /* blank or '#': the exact parser decides */
        while (q < le) {
            const char *t = q;
            while (q < le && *q != ' ' && *q != '\t') {
                unsigned char ch = (unsigned char)*q;
                if (ch < 0x21 || ch > 0x7e) { ok = 0; break; }
                q++;
            }
            if (!ok) break;
            if (col >= k || !put(&cols[col], rows, t, q - t)) { ok = 0; break; }
            col++;
            while (q < le && (*q == ' ' || *q == '\t')) q++;
        }
        if (ok && col != k) ok = 0;
        if (!ok) break;
        /* a string column that got a null still needs its offset written: put() did it */
        rows++;
        p = nl ? nl + 1 : end;
    }
    Py_END_ALLOW_THREADS
    if (!ok) {
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }

    PyObject *out = PyTuple_New(k);
    if (!out) goto fail;
    for (Py_ssize_t j = 0; j < k; j++) {
        Col *c = &cols[j];
        PyObject *item;
        if (c->kind == 'x') {
            item = Py_None;
            Py_INCREF(item);
        } else {
            PyObject *validity;
            if (c->nulls) validity = PyBytes_FromStringAndSize((const char *)c->validity, rows / 8 + 1);
            else { validity = Py_None; Py_INCREF(validity); }
            if (c->kind == 'i') {
                item = Py_BuildValue("(y#Nn)", (const char *)c->ints, rows * (Py_ssize_t)sizeof(int64_t),
                                     validity, c->nulls);
            } else {
                item = Py_BuildValue("(y#y#NnO)", (const char *)c->offsets,
                                     (rows + 1) * (Py_ssize_t)sizeof(int32_t), c->data, c->data_len,
                                     validity, c->nulls, c->saw_ipv6 ? Py_True : Py_False);
            }
            if (!item) { Py_DECREF(out); goto fail; }
        }
        PyTuple_SET_ITEM(out, j, item);
    }
    result = Py_BuildValue("(nN)", rows, out);
    goto done;

badspec:
    PyErr_SetString(PyExc_TypeError, "bad column spec");
    goto fail;
nomem:
    PyErr_NoMemory();
fail:
    result = NULL;
done:
    free_cols(cols, k);
    PyBuffer_Release(&buf);
    return result;
}

static PyMethodDef methods[] = {
    {"tokenize", tokenize, METH_VARARGS, "Split and check clean flow-log text into Arrow buffers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tokenize", NULL, -1, methods};

PyMODINIT_FUNC PyInit__tokenize(void) { return PyModule_Create(&module); }
