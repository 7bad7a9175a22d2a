/*
 * hf_catalog — the schema catalogue: loading, lookups, the frame encoder and
 * the compatibility report.
 *
 * Load: every *.avsc file of the folder becomes an entry holding the Avro C
 * schema (for encoding and for the reader's generic values), hemoflow's own
 * schema tree (canonical form, fingerprint, defaults) and a decoding plan
 * from that version to the newest version of its event type
 * (hf_catalog_plan.c; hf_decoder.c walks it). Entries are immutable
 * afterwards, so one catalogue serves all threads.
 */
#include "hf_catalog.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hf_avro.h"
#include "hf_catalog_int.h"
#include "hf_frame.h"
#include "hf_log.h"

#define HF__MAX_SCHEMA_FILE (1024 * 1024)

/* ==== loading ==== */

/* "<EventType>.v<N>.avsc" -> name (owned by caller) and N; false otherwise. */
static bool hf__parse_file_name(const char *base, char **type_out, int *version_out)
{
    size_t n = strlen(base);
    if (n < 8 || strcmp(base + n - 5, ".avsc") != 0)
        return false;
    const char *v = NULL;
    for (const char *q = base; (q = strstr(q, ".v")) != NULL; q++)
        v = q;
    if (!v || v == base)
        return false;
    const char *digits = v + 2, *stop = base + n - 5;
    size_t nd = (size_t)(stop - digits);
    if (nd == 0 || nd > 6 || digits[0] == '0')
        return false;
    int ver = 0;
    for (const char *d = digits; d < stop; d++) {
        if (*d < '0' || *d > '9')
            return false;
        ver = ver * 10 + (*d - '0');
    }
    for (const char *c = base; c < v; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return false;
    *type_out = hf_strndup(base, (size_t)(v - base));
    *version_out = ver;
    return true;
}

static const char *hf__basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static hf_err_t hf__read_file(const char *path, char **out, size_t *len, char *errstr,
                              size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hf_err_set(errno == ENOENT ? HF_ERR_NOT_FOUND : HF_ERR_IO, errstr, errstr_size,
                          "%s: %s", path, strerror(errno));
    char *buf = hf_malloc(HF__MAX_SCHEMA_FILE + 1);
    size_t n = fread(buf, 1, HF__MAX_SCHEMA_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > HF__MAX_SCHEMA_FILE) {
        hf_free(buf);
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "%s: %s", path,
                          bad ? "read error" : "larger than 1 MiB");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return HF_OK;
}

static void hf__entry_close(hf__entry_t *e);

/* Everything about one schema file that does not depend on other files.
 * HF_ERR_INVALID with "file: reason" when the file is not acceptable. */
static hf_err_t hf__entry_open(hf__entry_t *e, const char *path, char *errstr, size_t errstr_size)
{
    const char *base = hf__basename(path);
    char *type = NULL, *text = NULL;
    size_t len = 0;
    char why[512];
    hf_err_t err;
    memset(e, 0, sizeof(*e));
    if (!hf__parse_file_name(base, &type, &e->version))
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size,
                          "%s: file name must be <EventType>.v<N>.avsc (N >= 1)", path);
    e->et = hf_event_type_find(type);
    if (!e->et || strcmp(e->et->name, type) != 0) {
        err = hf_err_set(HF_ERR_INVALID, errstr, errstr_size,
                         "%s: '%s' is not a hemoflow event type (common/hf_event_types.h)", path,
                         type);
        goto out;
    }
    e->et_index = (size_t)(e->et - hf_event_types);
    if ((err = hf__read_file(path, &text, &len, errstr, errstr_size)) != HF_OK)
        goto out;
    if (avro_schema_from_json_length(text, len, &e->schema)) {
        e->schema = NULL;
        err = hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "%s: not a valid Avro schema: %s",
                         path, avro_strerror());
        goto out;
    }
    e->tree = hf_avro_schema_parse(text, len, why, sizeof(why));
    if (!e->tree) {
        err = hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "%s: %s", path, why);
        goto out;
    }
    const hf_avro_node_t *root = hf_avro_schema_root(e->tree);
    if (root->type != HF_AVRO_RECORD || strcmp(root->name, type) != 0) {
        err = hf_err_set(HF_ERR_INVALID, errstr, errstr_size,
                         "%s: the schema is %s %s, but the file name says record %s", path,
                         hf_avro_type_name(root->type), root->fullname ? root->fullname : "", type);
        goto out;
    }
    e->fp = hf_avro_schema_fingerprint(e->tree);
    e->path = hf_strdup(path);
    err = HF_OK;
out:
    hf_free(type);
    hf_free(text);
    if (err)
        hf__entry_close(e);
    return err;
}

static void hf__entry_close(hf__entry_t *e)
{
    if (e->schema)
        avro_schema_decref(e->schema);
    hf_avro_schema_destroy(e->tree);
    hf_free(e->path);
    memset(e, 0, sizeof(*e));
}

static int hf__cmp_entry(const void *a, const void *b)
{
    const hf__entry_t *x = a, *y = b;
    if (x->et_index != y->et_index)
        return x->et_index < y->et_index ? -1 : 1;
    return (x->version > y->version) - (x->version < y->version);
}

static int hf__cmp_fp(const void *a, const void *b)
{
    const hf__entry_t *x = *(hf__entry_t *const *)a, *y = *(hf__entry_t *const *)b;
    return (x->fp > y->fp) - (x->fp < y->fp);
}

static int hf__cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.avsc names of dir (caller frees). */
static hf_err_t hf__list_dir(const char *dir, char ***names_out, size_t *n_out, char *errstr,
                             size_t errstr_size)
{
    DIR *d = opendir(dir);
    if (!d)
        return hf_err_set(errno == ENOENT ? HF_ERR_NOT_FOUND : HF_ERR_IO, errstr, errstr_size,
                          "schema folder %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 5 || strcmp(de->d_name + l - 5, ".avsc") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = hf_realloc(names, cap * sizeof(*names));
        }
        names[n++] = hf_asprintf("%s/%s", dir, de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), hf__cmp_str);
    *names_out = names;
    *n_out = n;
    return HF_OK;
}

/* Cross-file rules: unique fingerprints, every event type present, every
 * version readable by the newest; then plans and reader classes. */
static hf_err_t hf__catalog_link(hf_catalog_t *cat, char *errstr, size_t errstr_size)
{
    cat->by_fp = hf_calloc(cat->n ? cat->n : 1, sizeof(*cat->by_fp));
    for (size_t i = 0; i < cat->n; i++)
        cat->by_fp[i] = &cat->entries[i];
    qsort(cat->by_fp, cat->n, sizeof(*cat->by_fp), hf__cmp_fp);
    for (size_t i = 1; i < cat->n; i++)
        if (cat->by_fp[i]->fp == cat->by_fp[i - 1]->fp)
            return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                              "%s and %s have the same fingerprint %016llx (same canonical "
                              "form): each version must differ",
                              cat->by_fp[i - 1]->path, cat->by_fp[i]->path,
                              (unsigned long long)cat->by_fp[i]->fp);

    cat->newest = hf_calloc(hf_event_types_count, sizeof(*cat->newest));
    cat->ifaces = hf_calloc(hf_event_types_count, sizeof(*cat->ifaces));
    for (size_t i = 0; i < cat->n; i++)
        cat->newest[cat->entries[i].et_index] = &cat->entries[i]; /* sorted: last wins */
    char missing[512] = "";
    size_t off = 0;
    for (size_t t = 0; t < hf_event_types_count; t++)
        if (!cat->newest[t] && off < sizeof(missing))
            off += (size_t)snprintf(missing + off, sizeof(missing) - off, "%s%s", off ? ", " : "",
                                    hf_event_types[t].name);
    if (off)
        return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                          "schema catalogue has no version of: %s", missing);

    hf__memo_t memo = {0};
    hf_err_t err = HF_OK;
    for (size_t i = 0; i < cat->n && !err; i++) {
        hf__entry_t *e = &cat->entries[i];
        e->newest = cat->newest[e->et_index];
        e->is_newest = e->newest == e;
        hf_buf_t why = {0};
        size_t problems =
            hf_avro_check(hf_avro_schema_root(e->tree), hf_avro_schema_root(e->newest->tree), &why);
        if (problems) {
            hf_buf_append(&why, "", 1);
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                             "%s cannot be read by the newest version %s:\n%s", e->path,
                             e->newest->path, (char *)why.data);
        } else {
            memo.n = 0; /* plans are per (writer, reader) pair of one writer tree */
            e->plan = hf__compile(cat, &memo, hf_avro_schema_root(e->tree),
                                  hf_avro_schema_root(e->newest->tree));
        }
        hf_buf_free(&why);
    }
    hf_free(memo.v);
    for (size_t t = 0; t < hf_event_types_count && !err; t++) {
        cat->ifaces[t] = avro_generic_class_from_schema(cat->newest[t]->schema);
        if (!cat->ifaces[t])
            err = hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size, "%s: avro-c: %s",
                             cat->newest[t]->path, avro_strerror());
    }
    return err;
}

hf_catalog_t *hf_catalog_load(const char *dir, char *errstr, size_t errstr_size)
{
    char **names = NULL;
    size_t nnames = 0;
    if (hf__list_dir(dir, &names, &nnames, errstr, errstr_size) != HF_OK)
        return NULL;
    hf_catalog_t *cat = hf_calloc(1, sizeof(*cat));
    cat->entries = hf_calloc(nnames ? nnames : 1, sizeof(*cat->entries));
    hf_err_t err = HF_OK;
    for (size_t i = 0; i < nnames && !err; i++) {
        err = hf__entry_open(&cat->entries[cat->n], names[i], errstr, errstr_size);
        if (!err)
            cat->n++;
    }
    for (size_t i = 0; i < nnames; i++)
        hf_free(names[i]);
    hf_free(names);
    if (!err) {
        qsort(cat->entries, cat->n, sizeof(*cat->entries), hf__cmp_entry);
        err = hf__catalog_link(cat, errstr, errstr_size);
    }
    if (err) {
        hf_catalog_destroy(cat);
        return NULL;
    }
    hf_log_debug("catalog.loaded", "dir=%s schemas=%zu", dir, cat->n);
    return cat;
}

void hf_catalog_destroy(hf_catalog_t *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->nplans; i++)
        hf__plan_free(cat->plans[i]);
    hf_free(cat->plans);
    if (cat->ifaces)
        for (size_t t = 0; t < hf_event_types_count; t++)
            if (cat->ifaces[t])
                avro_value_iface_decref(cat->ifaces[t]);
    hf_free(cat->ifaces);
    for (size_t i = 0; i < cat->n; i++)
        hf__entry_close(&cat->entries[i]);
    hf_free(cat->entries);
    hf_free(cat->by_fp);
    hf_free(cat->newest);
    hf_free(cat);
}

/* ==== lookups ==== */

hf__entry_t *hf__by_fp(const hf_catalog_t *cat, uint64_t fp)
{
    size_t lo = 0, hi = cat->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t v = cat->by_fp[mid]->fp;
        if (v == fp)
            return cat->by_fp[mid];
        if (v < fp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void hf__info(const hf__entry_t *e, hf_catalog_info_t *out)
{
    out->event_type = e->et;
    out->version = e->version;
    out->fingerprint = e->fp;
    out->path = e->path;
    out->canonical = hf_avro_schema_pcf(e->tree);
    out->is_newest = e->is_newest;
}

size_t hf_catalog_count(const hf_catalog_t *cat)
{
    return cat->n;
}

hf_err_t hf_catalog_entry(const hf_catalog_t *cat, size_t i, hf_catalog_info_t *out)
{
    if (i >= cat->n)
        return HF_ERR_NOT_FOUND;
    hf__info(&cat->entries[i], out);
    return HF_OK;
}

hf_err_t hf_catalog_find(const hf_catalog_t *cat, uint64_t fingerprint, hf_catalog_info_t *out)
{
    const hf__entry_t *e = hf__by_fp(cat, fingerprint);
    if (!e)
        return HF_ERR_UNKNOWN_FINGERPRINT;
    hf__info(e, out);
    return HF_OK;
}

avro_schema_t hf_catalog_schema(const hf_catalog_t *cat, const char *event_type, int version,
                                uint64_t *fingerprint_out)
{
    const hf_event_type_t *et = event_type ? hf_event_type_find(event_type) : NULL;
    if (!et)
        return NULL;
    size_t t = (size_t)(et - hf_event_types);
    const hf__entry_t *e = NULL;
    if (version == 0)
        e = cat->newest[t];
    for (size_t i = 0; i < cat->n && !e; i++)
        if (cat->entries[i].et_index == t && cat->entries[i].version == version)
            e = &cat->entries[i];
    if (!e)
        return NULL;
    if (fingerprint_out)
        *fingerprint_out = e->fp;
    return e->schema;
}

int hf_catalog_field_index(const hf_catalog_t *cat, const hf_event_type_t *event_type,
                           const char *field)
{
    if (!event_type || event_type < hf_event_types ||
        event_type >= hf_event_types + hf_event_types_count)
        return -1;
    const hf_avro_node_t *root =
        hf_avro_schema_root(cat->newest[event_type - hf_event_types]->tree);
    for (size_t i = 0; i < root->n; i++)
        if (strcmp(root->fields[i].name, field) == 0)
            return (int)i;
    return -1;
}

const hf_avro_schema_t *hf_catalog_reader_tree(const hf_catalog_t *cat,
                                               const hf_event_type_t *event_type, int *version_out)
{
    if (!event_type || event_type < hf_event_types ||
        event_type >= hf_event_types + hf_event_types_count)
        return NULL;
    const hf__entry_t *e = cat->newest[event_type - hf_event_types];
    if (version_out)
        *version_out = e->version;
    return e->tree;
}

/* ==== encoding ==== */

hf_err_t hf_catalog_encode(const hf_catalog_t *cat, avro_value_t *value, uint64_t fingerprint,
                           hf_buf_t *out, char *errstr, size_t errstr_size)
{
    const hf__entry_t *e = hf__by_fp(cat, fingerprint);
    if (!e)
        return hf_err_set(HF_ERR_UNKNOWN_FINGERPRINT, errstr, errstr_size,
                          "fingerprint %016llx is not in the catalogue",
                          (unsigned long long)fingerprint);
    avro_schema_t vs = avro_value_get_schema(value);
    if (vs != e->schema && !avro_schema_equal(vs, e->schema))
        return hf_err_set(HF_ERR_SCHEMA, errstr, errstr_size,
                          "value is not an instance of %s v%d (fingerprint %016llx)", e->et->name,
                          e->version, (unsigned long long)fingerprint);
    size_t size = 0;
    if (avro_value_sizeof(value, &size))
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "%s v%d: avro-c sizeof: %s",
                          e->et->name, e->version, avro_strerror());
    hf_buf_reserve(out, HF_FRAME_HEADER_LEN + size);
    uint8_t *dst = out->data + out->len;
    hf_frame_header(dst, fingerprint);
    avro_writer_t w = avro_writer_memory((char *)dst + HF_FRAME_HEADER_LEN, (int64_t)size);
    if (!w)
        return hf_err_set(HF_ERR_INTERNAL, errstr, errstr_size, "avro-c writer: %s",
                          avro_strerror());
    int rc = avro_value_write(w, value);
    int64_t written = avro_writer_tell(w);
    avro_writer_free(w);
    if (rc || written != (int64_t)size)
        return hf_err_set(HF_ERR_INVALID, errstr, errstr_size, "%s v%d: avro-c write: %s",
                          e->et->name, e->version, rc ? avro_strerror() : "size mismatch");
    out->len += HF_FRAME_HEADER_LEN + size;
    return HF_OK;
}

/* ==== compatibility report ==== */

static size_t hf__check_pair(hf_buf_t *report, const char *label, const hf_avro_node_t *w,
                             const hf_avro_node_t *r)
{
    hf_buf_t why = {0};
    size_t problems = hf_avro_check(w, r, &why);
    hf_buf_printf(report, "  %s: %s\n", label, problems ? "INCOMPATIBLE" : "OK");
    if (problems)
        hf_buf_append(report, why.data, why.len);
    hf_buf_free(&why);
    return problems;
}

static hf_err_t hf__check_candidate(const hf_catalog_t *cat, const hf__entry_t *c, hf_buf_t *report)
{
    size_t problems = 0, compared = 0;
    const hf_avro_node_t *croot = hf_avro_schema_root(c->tree);
    hf_buf_printf(report, "candidate %s v%d, fingerprint %016llx (%s)\n", c->et->name, c->version,
                (unsigned long long)c->fp, c->path);
    for (size_t i = 0; i < cat->n; i++) {
        const hf__entry_t *w = &cat->entries[i];
        if (w->et_index != c->et_index)
            continue;
        if (w->version == c->version) {
            if (w->fp == c->fp) {
                hf_buf_printf(report, "  v%d: identical to the catalogue's %s\n", w->version,
                            w->path);
            } else {
                problems++;
                hf_buf_printf(report,
                            "  v%d: INCOMPATIBLE\n  - the catalogue already has v%d (%s) with "
                            "fingerprint %016llx; a published version never changes: use "
                            "v%d\n",
                            w->version, w->version, w->path, (unsigned long long)w->fp,
                            cat->newest[c->et_index]->version + 1);
            }
            continue;
        }
        if (w->version > c->version) {
            hf_buf_printf(report, "  v%d: newer than the candidate, not compared\n", w->version);
            continue;
        }
        const hf_avro_node_t *wroot = hf_avro_schema_root(w->tree);
        char label[128];
        snprintf(label, sizeof(label), "v%d data read with candidate v%d (backward)", w->version,
                 c->version);
        problems += hf__check_pair(report, label, wroot, croot);
        snprintf(label, sizeof(label), "candidate v%d data read with v%d (forward)", c->version,
                 w->version);
        problems += hf__check_pair(report, label, croot, wroot);
        compared++;
    }
    if (problems)
        hf_buf_printf(report, "result: incompatible (%zu problem%s)\n", problems,
                    problems == 1 ? "" : "s");
    else
        hf_buf_printf(report, "result: compatible (%zu older version%s compared)\n", compared,
                    compared == 1 ? "" : "s");
    return problems ? HF_ERR_SCHEMA : HF_OK;
}

hf_err_t hf_catalog_check(const hf_catalog_t *cat, const char *candidate_path, hf_buf_t *report)
{
    char errstr[1024];
    hf__entry_t c;
    hf_err_t err = hf__entry_open(&c, candidate_path, errstr, sizeof(errstr));
    if (err)
        hf_buf_printf(report, "error: %s\n", errstr);
    else
        err = hf__check_candidate(cat, &c, report);
    hf__entry_close(&c);
    hf_buf_reserve(report, 1);
    report->data[report->len] = '\0';
    return err;
}
