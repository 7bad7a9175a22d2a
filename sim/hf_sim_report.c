/*
 * hf_sim_report — the report of a run as JSON (format in docs/simulate.md;
 * deterministic, no wall-clock values) and as a human-readable summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hf_cal.h"
#include "hf_mem.h"
#include "hf_province.h"
#include "hf_simulate.h"

/* ==== report ==== */

static json_t *hf__u64(uint64_t v)
{
    return json_integer((json_int_t)v);
}

char *hf_sim_report_json(const hf_sim_report_t *rep, const hf_sim_conf_t *conf)
{
    json_t *root = json_object();
    json_t *jc = json_object();
    char ed[11];
    hf_cal_date_format(conf->end_date, ed);
    json_object_set_new(jc, "seed", hf__u64(conf->seed));
    json_object_set_new(jc, "count", hf__u64(conf->count));
    json_object_set_new(jc, "days", json_integer(conf->days));
    json_object_set_new(jc, "end_date", json_string(ed));
    json_t *jt = json_array();
    for (size_t i = 0; i < HF_SIM_NTYPES; i++)
        if (!conf->types_mask || (conf->types_mask & (1u << i)))
            json_array_append_new(jt, json_string(hf_event_types[i].name));
    json_object_set_new(jc, "types", jt);
    json_t *jr = json_object();
    json_object_set_new(jr, "dup", json_real(conf->dup_rate));
    json_object_set_new(jr, "late", json_real(conf->late_rate));
    json_object_set_new(jr, "amend", json_real(conf->amend_rate));
    json_object_set_new(jr, "retract", json_real(conf->retract_rate));
    json_object_set_new(jr, "malformed", json_real(conf->malformed_rate));
    json_object_set_new(jr, "unknown_fp", json_real(conf->unknown_fp_rate));
    json_object_set_new(jr, "bad_din", json_real(conf->bad_din_rate));
    json_object_set_new(jr, "old_schema", json_real(conf->old_schema_rate));
    json_object_set_new(jc, "rates", jr);
    json_object_set_new(root, "config", jc);

    json_t *types = json_object();
    json_t *rows = json_object();
    hf_sim_type_counts_t tot;
    memset(&tot, 0, sizeof(tot));
    for (size_t i = 0; i < HF_SIM_NTYPES; i++) {
        const hf_sim_type_counts_t *c = &rep->type[i];
        json_t *o = json_object();
        uint64_t distinct = c->created + c->amendments + c->retractions;
        json_object_set_new(o, "topic_suffix", json_string(hf_event_types[i].snake));
        json_object_set_new(o, "distinct_valid", hf__u64(distinct));
        json_object_set_new(o, "created", hf__u64(c->created));
        json_object_set_new(o, "amendments", hf__u64(c->amendments));
        json_object_set_new(o, "retractions", hf__u64(c->retractions));
        json_object_set_new(o, "resends", hf__u64(c->resends));
        json_object_set_new(o, "late", hf__u64(c->late));
        json_object_set_new(o, "old_schema", hf__u64(c->old_schema));
        json_object_set_new(o, "bad_din", hf__u64(c->bad_din));
        json_object_set_new(o, "bad_din_format", hf__u64(c->bad_din_format));
        json_object_set_new(o, "bad_din_check", hf__u64(c->bad_din_check));
        json_object_set_new(o, "malformed",
                            hf__u64(c->malformed_bad_magic + c->malformed_truncated));
        json_object_set_new(o, "malformed_bad_magic", hf__u64(c->malformed_bad_magic));
        json_object_set_new(o, "malformed_truncated", hf__u64(c->malformed_truncated));
        json_object_set_new(o, "unknown_fingerprint", hf__u64(c->unknown_fp));
        json_object_set_new(o, "rejected", hf__u64(c->rejected));
        json_object_set_new(o, "messages", hf__u64(c->messages));
        json_object_set_new(types, hf_event_types[i].name, o);
        json_object_set_new(rows, hf_event_types[i].snake, hf__u64(distinct));
        tot.created += c->created;
        tot.amendments += c->amendments;
        tot.retractions += c->retractions;
        tot.resends += c->resends;
        tot.late += c->late;
        tot.old_schema += c->old_schema;
        tot.bad_din += c->bad_din;
        tot.bad_din_format += c->bad_din_format;
        tot.bad_din_check += c->bad_din_check;
        tot.malformed_bad_magic += c->malformed_bad_magic;
        tot.malformed_truncated += c->malformed_truncated;
        tot.unknown_fp += c->unknown_fp;
        tot.rejected += c->rejected;
        tot.messages += c->messages;
    }
    json_object_set_new(root, "event_types", types);

    json_t *t = json_object();
    json_object_set_new(t, "messages", hf__u64(tot.messages));
    json_object_set_new(t, "distinct_valid",
                        hf__u64(tot.created + tot.amendments + tot.retractions));
    json_object_set_new(t, "created", hf__u64(tot.created));
    json_object_set_new(t, "amendments", hf__u64(tot.amendments));
    json_object_set_new(t, "retractions", hf__u64(tot.retractions));
    json_object_set_new(t, "resends", hf__u64(tot.resends));
    json_object_set_new(t, "late", hf__u64(tot.late));
    json_object_set_new(t, "old_schema", hf__u64(tot.old_schema));
    json_object_set_new(t, "malformed", hf__u64(tot.malformed_bad_magic + tot.malformed_truncated));
    json_object_set_new(t, "malformed_bad_magic", hf__u64(tot.malformed_bad_magic));
    json_object_set_new(t, "malformed_truncated", hf__u64(tot.malformed_truncated));
    json_object_set_new(t, "unknown_fingerprint", hf__u64(tot.unknown_fp));
    json_object_set_new(t, "bad_din", hf__u64(tot.bad_din));
    json_object_set_new(t, "rejected", hf__u64(tot.rejected));
    json_object_set_new(root, "totals", t);

    json_object_set_new(root, "expected_warehouse_rows", rows);
    json_t *pr = json_object();
    for (size_t i = 0; i < HF_SIM_NPROV; i++)
        if (rep->rows_by_province[i])
            json_object_set_new(pr, hf_provinces[i].code, hf__u64(rep->rows_by_province[i]));
    json_object_set_new(root, "expected_warehouse_rows_by_province", pr);

    json_t *q = json_object();
    json_object_set_new(q, "malformed_frame",
                        hf__u64(tot.malformed_bad_magic + tot.malformed_truncated));
    json_object_set_new(q, "unknown_fingerprint", hf__u64(tot.unknown_fp));
    json_object_set_new(q, "invalid_din", hf__u64(tot.bad_din));
    json_object_set_new(root, "expected_quarantine", q);
    json_t *qd = json_object();
    json_object_set_new(qd, "bad_magic", hf__u64(tot.malformed_bad_magic));
    json_object_set_new(qd, "truncated", hf__u64(tot.malformed_truncated));
    json_object_set_new(qd, "unknown_fingerprint", hf__u64(tot.unknown_fp));
    json_object_set_new(qd, "din_format", hf__u64(tot.bad_din_format));
    json_object_set_new(qd, "din_check", hf__u64(tot.bad_din_check));
    json_object_set_new(root, "expected_quarantine_detail", qd);

    json_t *m = json_object();
    json_object_set_new(m, "visits", hf__u64(rep->visits));
    json_object_set_new(m, "donors_registered", hf__u64(rep->donors_registered));
    json_object_set_new(m, "deferrals", hf__u64(rep->deferrals));
    json_object_set_new(m, "donations_whole_blood", hf__u64(rep->donations_whole_blood));
    json_object_set_new(m, "donations_platelets", hf__u64(rep->donations_platelets));
    json_object_set_new(m, "donations_plasma", hf__u64(rep->donations_plasma));
    json_object_set_new(m, "facilities_blood", hf__u64(rep->facilities_blood));
    json_object_set_new(m, "facilities_plasma", hf__u64(rep->facilities_plasma));
    json_object_set_new(m, "facilities_hospital", hf__u64(rep->facilities_hospital));
    json_object_set_new(m, "facilities_reporting_inventory",
                        hf__u64(rep->facilities_reporting_inventory));
    json_object_set_new(root, "model", m);
    json_object_set_new(root, "stopped", json_boolean(rep->stopped));
    if (rep->first_reject[0])
        json_object_set_new(root, "first_reject", json_string(rep->first_reject));

    char *txt = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(root);
    if (!txt)
        abort(); /* jansson only fails on allocation */
    char *out = hf_strdup(txt);
    free(txt);
    return out;
}

hf_err_t hf_sim_report_write(const hf_sim_report_t *report, const hf_sim_conf_t *conf,
                             const char *path, char *errstr, size_t errstr_size)
{
    char *txt = hf_sim_report_json(report, conf);
    FILE *f = fopen(path, "w");
    if (!f) {
        hf_free(txt);
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "report %s: %s", path, strerror(errno));
    }
    bool ok = fputs(txt, f) >= 0 && fputc('\n', f) != EOF;
    ok = (fclose(f) == 0) && ok;
    hf_free(txt);
    if (!ok)
        return hf_err_set(HF_ERR_IO, errstr, errstr_size, "report %s: write failed: %s", path,
                          strerror(errno));
    return HF_OK;
}

void hf_sim_report_print(const hf_sim_report_t *rep, FILE *out)
{
    fprintf(out, "%-26s %8s %7s %7s %7s %7s %6s %6s %7s %6s %6s %8s\n", "event type", "created",
            "amend", "retract", "resend", "late", "oldsch", "baddin", "malform", "unkfp", "reject",
            "messages");
    hf_sim_type_counts_t tot;
    memset(&tot, 0, sizeof(tot));
    for (size_t i = 0; i < HF_SIM_NTYPES; i++) {
        const hf_sim_type_counts_t *c = &rep->type[i];
        uint64_t mal = c->malformed_bad_magic + c->malformed_truncated;
        fprintf(out,
                "%-26s %8" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %6" PRIu64
                " %6" PRIu64 " %7" PRIu64 " %6" PRIu64 " %6" PRIu64 " %8" PRIu64 "\n",
                hf_event_types[i].name, c->created, c->amendments, c->retractions, c->resends,
                c->late, c->old_schema, c->bad_din, mal, c->unknown_fp, c->rejected, c->messages);
        tot.created += c->created;
        tot.amendments += c->amendments;
        tot.retractions += c->retractions;
        tot.resends += c->resends;
        tot.late += c->late;
        tot.old_schema += c->old_schema;
        tot.bad_din += c->bad_din;
        tot.malformed_bad_magic += mal;
        tot.unknown_fp += c->unknown_fp;
        tot.rejected += c->rejected;
        tot.messages += c->messages;
    }
    fprintf(out,
            "%-26s %8" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %6" PRIu64
            " %6" PRIu64 " %7" PRIu64 " %6" PRIu64 " %6" PRIu64 " %8" PRIu64 "\n",
            "total", tot.created, tot.amendments, tot.retractions, tot.resends, tot.late,
            tot.old_schema, tot.bad_din, tot.malformed_bad_magic, tot.unknown_fp, tot.rejected,
            tot.messages);
    fprintf(out,
            "expected warehouse rows %" PRIu64 "; expected quarantine: malformed_frame %" PRIu64
            ", unknown_fingerprint %" PRIu64 ", invalid_din %" PRIu64 "\n",
            tot.created + tot.amendments + tot.retractions, tot.malformed_bad_magic, tot.unknown_fp,
            tot.bad_din);
    fprintf(out,
            "model: %" PRIu64 " visits, %" PRIu64 " new donors, %" PRIu64 " deferrals, donations "
            "%" PRIu64 " whole blood / %" PRIu64 " platelets / %" PRIu64
            " plasma; facilities %" PRIu64 " blood stations, %" PRIu64 " plasma stations, %" PRIu64
            " hospitals (%" PRIu64 " reporting inventory)\n",
            rep->visits, rep->donors_registered, rep->deferrals, rep->donations_whole_blood,
            rep->donations_platelets, rep->donations_plasma, rep->facilities_blood,
            rep->facilities_plasma, rep->facilities_hospital, rep->facilities_reporting_inventory);
    if (rep->first_reject[0])
        fprintf(out, "first rejection: %s\n", rep->first_reject);
    if (rep->stopped)
        fprintf(out, "stopped early: the counts above are what was sent before the stop\n");
}
