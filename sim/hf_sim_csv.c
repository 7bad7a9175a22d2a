/*
 * hf_sim_csv — the CSV sink for `simulate --output DIR`: one station export
 * file per event type (and one for DonationCollected v1 rows), injected raw
 * frames as hex in raw_frames.jsonl.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hf_mem.h"
#include "hf_sim_int.h"

/* ==== CSV sink ==== */

/* Station export columns per event type (docs/events.md), hf_event_types
 * order; the envelope columns come first for every type. */
static const char *const hf__env_cols[] = {
    "event_id",    "source_system", "facility_id", "province_code",       "occurred_at",
    "reported_at", "revision",      "op",          "supersedes_event_id", NULL};
static const char *const *const hf__type_cols[HF_SIM_NTYPES] = {
    (const char *const[]){"donor_id", "birth_date", "sex", "donor_kind", NULL},
    (const char *const[]){"donor_id", "outcome", "deferral_reason", "deferral_until", "hb_g_per_l",
                          "weight_kg", "first_time", NULL},
    (const char *const[]){"schema_version", "din", "donor_id", "procedure", "collection_type",
                          "volume_ml", "plasma_g", "interval_days_since_last", "incomplete",
                          "anticoagulant_ml", NULL},
    (const char *const[]){"din", "marker", "method", "kit_lot", "result", "value", "is_final",
                          NULL},
    (const char *const[]){"din", "product_code", "parent_product_code", "abo_rhd", "volume_ml",
                          "expires_at", NULL},
    (const char *const[]){"snapshot_at", "product_class", "abo_rhd", "on_hand", "quarantined",
                          NULL},
    (const char *const[]){"din", "product_code", "movement", "from_facility_id", "to_facility_id",
                          "from_province_code", "to_province_code", NULL},
    (const char *const[]){"din", "product_code", "stage", "reason", NULL},
    (const char *const[]){"din", "product_code", "hospital_id", "patient_id", "department",
                          "started_at", "ended_at", "volume_ml", NULL},
    (const char *const[]){"subject", "dins", "category", "severity", "imputability",
                          "onset_minutes", "outcome", "report_status", NULL},
};

/* DonationCollected rows written with schema v1 go to their own file with
 * the v1 columns (publish refuses a column the writer schema lacks). */
static const char *const hf__don_v1_cols[] = {
    "schema_version",  "din",       "donor_id", "procedure",
    "collection_type", "volume_ml", "plasma_g", "interval_days_since_last",
    "incomplete",      NULL};
#define HF__CSV_DON_V1 HF_SIM_NTYPES /* file slot of DonationCollected.v1.csv */

struct hf_sim_csv_s {
    char *dir;
    FILE *f[HF_SIM_NTYPES + 1];
    FILE *raw;
    hf_err_t err;
    char errmsg[256];
};

hf_sim_csv_t *hf_sim_csv_new(const char *dir, char *errstr, size_t errstr_size)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        hf_err_set(HF_ERR_IO, errstr, errstr_size, "output %s: %s", dir, strerror(errno));
        return NULL;
    }
    hf_sim_csv_t *c = hf_calloc(1, sizeof(*c));
    c->dir = hf_strdup(dir);
    return c;
}

static void hf__csv_cell(FILE *f, const char *v)
{
    if (!v)
        return;
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static const char *const *hf__csv_cols(int slot)
{
    return slot == HF__CSV_DON_V1 ? hf__don_v1_cols : hf__type_cols[slot];
}

static FILE *hf__csv_file(hf_sim_csv_t *c, int slot)
{
    if (c->f[slot])
        return c->f[slot];
    char *path = slot == HF__CSV_DON_V1
                     ? hf_asprintf("%s/DonationCollected.v1.csv", c->dir)
                     : hf_asprintf("%s/%s.csv", c->dir, hf_event_types[slot].name);
    FILE *f = fopen(path, "w");
    if (!f) {
        c->err =
            hf_err_set(HF_ERR_IO, c->errmsg, sizeof(c->errmsg), "%s: %s", path, strerror(errno));
        hf_free(path);
        return NULL;
    }
    hf_free(path);
    bool first = true;
    for (const char *const *col = hf__env_cols; *col; col++, first = false)
        fprintf(f, "%s%s", first ? "" : ",", *col);
    for (const char *const *col = hf__csv_cols(slot); *col; col++)
        fprintf(f, ",%s", *col);
    fputc('\n', f);
    c->f[slot] = f;
    return f;
}

static hf_err_t hf__csv_submit(void *opaque, const char *event_type, const hf_field_t *fields,
                               size_t nfields, const hf_submit_opts_t *opts, hf_reject_t *reject)
{
    (void)reject;
    hf_sim_csv_t *c = opaque;
    int type = hf__type_index(event_type);
    if (type < 0)
        return HF_ERR_INTERNAL;
    int slot = type == HF__T_DON && opts && opts->schema_version == 1 ? HF__CSV_DON_V1 : type;
    FILE *f = hf__csv_file(c, slot);
    if (!f)
        return c->err;
    const char *const *lists[2] = {hf__env_cols, hf__csv_cols(slot)};
    bool first = true;
    for (int l = 0; l < 2; l++) {
        for (const char *const *col = lists[l]; *col; col++, first = false) {
            if (!first)
                fputc(',', f);
            if (strcmp(*col, "schema_version") == 0) {
                if (opts && opts->schema_version)
                    fprintf(f, "%d", opts->schema_version);
                continue;
            }
            for (size_t i = 0; i < nfields; i++)
                if (strcmp(fields[i].name, *col) == 0)
                    hf__csv_cell(f, fields[i].value);
        }
    }
    fputc('\n', f);
    if (ferror(f))
        return hf_err_set(HF_ERR_IO, c->errmsg, sizeof(c->errmsg), "%s/%s.csv: write error", c->dir,
                          event_type);
    return HF_OK;
}

static hf_err_t hf__csv_raw(void *opaque, const char *event_type, const char *key,
                            const void *payload, size_t len)
{
    hf_sim_csv_t *c = opaque;
    if (!c->raw) {
        char *path = hf_asprintf("%s/raw_frames.jsonl", c->dir);
        c->raw = fopen(path, "w");
        if (!c->raw) {
            hf_err_t e = hf_err_set(HF_ERR_IO, c->errmsg, sizeof(c->errmsg), "%s: %s", path,
                                    strerror(errno));
            hf_free(path);
            return e;
        }
        hf_free(path);
    }
    fprintf(c->raw, "{\"event_type\":\"%s\",\"key\":\"%s\",\"payload_hex\":\"", event_type, key);
    for (size_t i = 0; i < len; i++)
        fprintf(c->raw, "%02x", ((const uint8_t *)payload)[i]);
    fputs("\"}\n", c->raw);
    return ferror(c->raw) ? HF_ERR_IO : HF_OK;
}

void hf_sim_csv_sink(hf_sim_csv_t *csv, hf_sim_sink_t *out)
{
    out->opaque = csv;
    out->submit = hf__csv_submit;
    out->submit_raw = hf__csv_raw;
}

hf_err_t hf_sim_csv_close(hf_sim_csv_t *csv, char *errstr, size_t errstr_size)
{
    if (!csv)
        return HF_OK;
    hf_err_t err = csv->err;
    if (err)
        hf_err_set(err, errstr, errstr_size, "%s", csv->errmsg);
    for (size_t i = 0; i <= HF_SIM_NTYPES; i++)
        if (csv->f[i] && fclose(csv->f[i]) != 0 && !err)
            err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "%s/%s.csv: %s", csv->dir,
                             i == HF__CSV_DON_V1 ? "DonationCollected.v1" : hf_event_types[i].name,
                             strerror(errno));
    if (csv->raw && fclose(csv->raw) != 0 && !err)
        err = hf_err_set(HF_ERR_IO, errstr, errstr_size, "%s/raw_frames.jsonl: %s", csv->dir,
                         strerror(errno));
    hf_free(csv->dir);
    hf_free(csv);
    return err;
}
